"""Staff take back a wrong decision with a reason, audited (finding 13): offers, checklist
ticks and approvals. Permission-checked, refused in maintenance mode."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from aftercare.desk import approvals, workflow
from aftercare.desk import services as desk_services
from aftercare.desk.models import Approval, Status
from aftercare.desk.tests.factories import ticket_for
from aftercare.mail.models import OutboundMail
from aftercare.ops import maintenance
from aftercare.saas import services
from aftercare.saas.models import Offer, State, Step
from aftercare.saas.tests import factories as f
from aftercare.tenancy.models import AgentRestriction

pytestmark = pytest.mark.django_db
ACTION = "Restore last night's backup over the test site"


@pytest.fixture
def lead(org):
    return f.lead(organisation=org)


@pytest.fixture
def maintenance_on(db):
    maintenance.switch(True, message="Back soon.", by="tests")
    yield
    maintenance.forget()


# -- offers ----------------------------------------------------------------------------------


def test_a_confirmed_offer_goes_back_to_sent_with_the_reason_audited(lead, consultant, coordinator):
    offer = f.confirmed(lead, consultant, coordinator)
    services.undo_offer_decision(offer=offer, actor=consultant, reason="Reply misread")
    offer.refresh_from_db()
    lead.refresh_from_db()
    assert offer.status == Offer.Status.SENT and offer.decided_at is None
    assert lead.state == State.OFFER_SENT
    event = lead.events.get(action="saas.offer.decision_undone")
    assert event.actor == consultant
    assert (event.old, event.new) == (State.CONFIRMED, State.OFFER_SENT)
    assert "Reply misread" in event.note and coordinator.display_name in event.note
    # The customer can answer again.
    services.decide_offer(offer=offer, confirm=False, via=Offer.Via.PORTAL, user=coordinator)
    offer.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED


def test_a_declined_offer_goes_back_to_sent(lead, consultant, coordinator):
    offer = f.sent(lead, consultant)
    services.decide_offer(offer=offer, confirm=False, via=Offer.Via.PORTAL, user=coordinator)
    services.undo_offer_decision(offer=offer, actor=consultant, reason="Wrong button")
    lead.refresh_from_db()
    assert lead.state == State.OFFER_SENT


def test_taking_back_an_offer_needs_a_reason_a_manager_and_an_open_state(
    lead, consultant, coordinator, operator
):
    offer = f.confirmed(lead, consultant, coordinator)
    with pytest.raises(ValidationError):
        services.undo_offer_decision(offer=offer, actor=consultant, reason="  ")
    with pytest.raises(PermissionDenied):
        services.undo_offer_decision(offer=offer, actor=operator, reason="x")
    services.schedule(
        migration=lead,
        actor=consultant,
        scheduled_for=f.next_saturday(),
        target_site="alpha.saas.example",
    )
    with pytest.raises(services.TransitionError, match="moved on"):
        services.undo_offer_decision(offer=offer, actor=consultant, reason="x")
    offer.refresh_from_db()
    assert offer.status == Offer.Status.CONFIRMED


def test_the_console_button_takes_back_an_offer(lead, consultant, coordinator, client_for):
    offer = f.confirmed(lead, consultant, coordinator)
    client = client_for(consultant)
    page = client.get(reverse("saas:detail", args=[lead.pk])).content.decode()
    assert reverse("saas:offer-undo", args=[offer.pk]) in page
    url = reverse("saas:offer-undo", args=[offer.pk])
    client.post(url, {"reason": ""})
    offer.refresh_from_db()
    assert offer.status == Offer.Status.CONFIRMED  # no reason, nothing done
    assert client.get(url).status_code == 405
    response = client.post(url, {"reason": "Customer called: they meant no"})
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.status == Offer.Status.SENT


def test_the_offer_button_is_refused_to_others(
    lead, consultant, coordinator, operator, manager, org, other_org, client_for
):
    offer = f.confirmed(lead, consultant, coordinator)
    url = reverse("saas:offer-undo", args=[offer.pk])
    assert client_for(operator).post(url, {"reason": "x"}).status_code == 403
    assert client_for(coordinator).post(url, {"reason": "x"}).status_code == 403
    AgentRestriction.objects.create(user=manager, organisation=other_org)
    assert client_for(manager).post(url, {"reason": "x"}).status_code == 404
    offer.refresh_from_db()
    assert offer.status == Offer.Status.CONFIRMED


def test_taking_back_is_refused_in_maintenance_mode(lead, consultant, coordinator, client_for):
    offer = f.confirmed(lead, consultant, coordinator)
    client = client_for(consultant)
    maintenance.switch(True, by="tests")
    try:
        with pytest.raises(maintenance.MaintenanceError):
            services.undo_offer_decision(offer=offer, actor=consultant, reason="x")
        url = reverse("saas:offer-undo", args=[offer.pk])
        assert client.post(url, {"reason": "x"}).status_code == 503
    finally:
        maintenance.switch(False, by="tests")
        maintenance.forget()
    offer.refresh_from_db()
    assert offer.status == Offer.Status.CONFIRMED


# -- checklist ticks ---------------------------------------------------------------------------


def test_the_last_tick_is_taken_back_with_the_reason(lead, consultant, coordinator):
    f.scheduled(lead, consultant, coordinator)
    services.tick(migration=lead, actor=consultant, step=Step.READ_ONLY, note="done at 18:00")
    services.tick(migration=lead, actor=consultant, step=Step.FREEZE)
    with pytest.raises(services.TransitionError, match="first"):
        services.untick(migration=lead, actor=consultant, step=Step.READ_ONLY, reason="x")
    services.untick(migration=lead, actor=consultant, step=Step.FREEZE, reason="Import failed")
    assert list(lead.ticks.values_list("step", flat=True)) == [Step.READ_ONLY]
    event = lead.events.get(action="saas.checklist.unticked")
    assert event.old == Step.FREEZE and "Import failed" in event.note
    lead.refresh_from_db()
    assert lead.state == State.IN_PROGRESS
    services.untick(migration=lead, actor=consultant, step=Step.READ_ONLY, reason="Too early")
    lead.refresh_from_db()
    assert lead.state == State.SCHEDULED and not lead.ticks.exists()
    assert "done at 18:00" in lead.events.filter(action="saas.checklist.unticked").last().note
    services.tick(migration=lead, actor=consultant, step=Step.READ_ONLY)  # again, in order


def test_taking_back_the_handover_reopens_the_run(lead, consultant, coordinator):
    f.handed_over(lead, consultant, coordinator)
    services.untick(migration=lead, actor=consultant, step=Step.HANDOVER, reason="Site not up")
    lead.refresh_from_db()
    assert lead.state == State.IN_PROGRESS
    assert services.next_step(lead) == Step.HANDOVER


def test_ticks_stay_once_the_customer_accepted(lead, consultant, coordinator):
    from django.utils import timezone

    f.handed_over(lead, consultant, coordinator)
    services.accept(
        migration=lead, user=coordinator, name="Maria Pop", accepted_on=timezone.localdate()
    )
    with pytest.raises(services.TransitionError):
        services.untick(migration=lead, actor=consultant, step=Step.HANDOVER, reason="x")


def test_the_console_button_takes_back_a_tick(lead, consultant, coordinator, operator, client_for):
    f.scheduled(lead, consultant, coordinator)
    services.tick(migration=lead, actor=consultant, step=Step.READ_ONLY)
    url = reverse("saas:untick", args=[lead.pk, Step.READ_ONLY])
    client = client_for(consultant)
    assert url in client.get(reverse("saas:detail", args=[lead.pk])).content.decode()
    assert client_for(operator).post(url, {"reason": "x"}).status_code == 403
    client.post(url, {"reason": ""})
    assert lead.ticks.exists()
    client.post(url, {"reason": "Ticked the wrong migration"})
    assert not lead.ticks.exists()


# -- approvals ---------------------------------------------------------------------------------


@pytest.fixture
def decided(owner, org, coordinator, consultant):
    coordinator.email = "coord@alpha.example"
    coordinator.save()
    ticket = ticket_for(owner, org)
    desk_services.transition(ticket=ticket, actor=consultant, target=Status.SPRINT)
    approval = approvals.request(
        ticket=ticket, actor=consultant, action=ACTION, target_status=Status.IN_PROGRESS
    )
    return approvals.decide(
        approval=approval, user=coordinator, approve=True, via=Approval.Via.EMAIL, note="Yes"
    )


def test_an_approval_is_taken_back_and_asked_again(decided, consultant, coordinator):
    again = approvals.undo_decision(approval=decided, actor=consultant, reason="Misread reply")
    decided.refresh_from_db()
    # The answered approval keeps who decided and how; it no longer counts.
    assert decided.state == Approval.State.WITHDRAWN
    assert decided.decided_by == coordinator and decided.decided_via == Approval.Via.EMAIL
    assert "Misread reply" in decided.decision_note
    assert again.state == Approval.State.PENDING and again.action == ACTION
    assert again.target_status == Status.IN_PROGRESS
    # The move is blocked again until the customer answers anew ...
    with pytest.raises(workflow.TransitionError):
        desk_services.transition(ticket=decided.ticket, actor=consultant, target=Status.IN_PROGRESS)
    event = decided.ticket.events.get(action="desk.approval.undone")
    assert event.actor == consultant and "Misread reply" in event.note
    # ... who is asked again with fresh links.
    assert OutboundMail.objects.filter(kind="approval").count() == 2
    approvals.decide(approval=again, user=coordinator, approve=True, via=Approval.Via.PORTAL)
    desk_services.transition(ticket=decided.ticket, actor=consultant, target=Status.IN_PROGRESS)


def test_taking_back_an_approval_is_checked(decided, consultant, operator, developer, org):
    with pytest.raises(ValidationError):
        approvals.undo_decision(approval=decided, actor=consultant, reason=" ")
    restricted = consultant
    other = type(org).objects.create(name="Other SRL", code="other")
    AgentRestriction.objects.create(user=restricted, organisation=other)
    with pytest.raises(PermissionDenied):
        approvals.undo_decision(approval=decided, actor=restricted, reason="x")
    decided.refresh_from_db()
    assert decided.state == Approval.State.APPROVED


def test_a_customer_cannot_take_back_an_approval(decided, coordinator):
    with pytest.raises(PermissionDenied):
        approvals.undo_decision(approval=decided, actor=coordinator, reason="x")


def test_a_pending_approval_or_a_request_already_moved_is_refused(decided, consultant):
    desk_services.transition(ticket=decided.ticket, actor=consultant, target=Status.IN_PROGRESS)
    with pytest.raises(approvals.ApprovalError, match="move it back"):
        approvals.undo_decision(approval=decided, actor=consultant, reason="x")
    pending = approvals.request(ticket=decided.ticket, actor=consultant, action="Another")
    with pytest.raises(approvals.ApprovalError):
        approvals.undo_decision(approval=pending, actor=consultant, reason="x")


def test_taking_back_an_approval_is_refused_in_maintenance(decided, consultant, maintenance_on):
    with pytest.raises(maintenance.MaintenanceError):
        approvals.undo_decision(approval=decided, actor=consultant, reason="x")


def test_the_request_page_takes_back_an_approval_with_a_reason(decided, consultant, client_for):
    from django.urls import reverse

    client = client_for(consultant)
    url = reverse("console:ticket", args=[decided.ticket.number])
    page = client.get(url).content.decode()
    assert 'value="undo_approval"' in page  # the button is offered on an answered approval
    refused = client.post(
        url, {"action": "undo_approval", "approval": decided.pk, "reason": ""}, follow=True
    )
    assert "reason" in refused.content.decode().lower()
    decided.refresh_from_db()
    assert decided.state == Approval.State.APPROVED  # nothing without a reason
    client.post(url, {"action": "undo_approval", "approval": decided.pk, "reason": "Misread"})
    decided.refresh_from_db()
    assert decided.state == Approval.State.WITHDRAWN
    assert decided.ticket.approvals.filter(state=Approval.State.PENDING).count() == 1
