"""Releases close the loop: a production deployment delivers its requests, once, with the
customer's consent bound to the release, and the history keeps its own order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from aftercare.accounts.roles import Role
from aftercare.desk import approvals
from aftercare.desk import services as desk
from aftercare.desk.models import Approval, Category, Event, Status
from aftercare.desk.tests.factories import ticket_for
from aftercare.lifecycle import services
from aftercare.lifecycle.models import (
    ChangeLink,
    Deployment,
    Environment,
    ReleaseApproval,
    ReleaseNote,
)
from aftercare.lifecycle.services import DeploymentRefused, deploy
from aftercare.lifecycle.tests.factories import landscape, release
from aftercare.mail.models import OutboundMail
from aftercare.notifications.models import Notification
from aftercare.sla.models import SlaClock
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db

SUCCEEDED = Deployment.Result.SUCCEEDED
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, after every release of the land


@pytest.fixture
def land(org):
    return landscape(org)


@pytest.fixture
def change(org, owner, coordinator):
    return ticket_for(
        owner, org, subject="New field on the delivery note", category=Category.CHANGE
    )


def _prove(land, user, rel, at=T0):
    return deploy(
        release=rel, environment=land["test"], actor=user, result=SUCCEEDED, deployed_at=at
    )


def _approve(change, rel, land, consultant, coordinator) -> Approval:
    approval = services.ask_release_approval(
        ticket=change, release=rel, environment=land["production"], actor=consultant
    )
    approvals.decide(approval=approval, user=coordinator, approve=True, via=Approval.Via.PORTAL)
    return approval


def _to_production(land, user, rel, tickets=(), at=T0 + timedelta(days=1), result=SUCCEEDED):
    return deploy(
        release=rel,
        environment=land["production"],
        actor=user,
        result=result,
        deployed_at=at,
        change_requests=list(tickets),
    )


def _reasons(excinfo) -> str:
    return " ".join(excinfo.value.reasons)


def _work_on(ticket, consultant, *targets):
    for target in targets:
        desk.transition(ticket=ticket, actor=consultant, target=target)


# -- delivery ------------------------------------------------------------------------------


def test_a_production_success_releases_the_linked_change_and_tells_the_reporter(
    land, consultant, change, coordinator, owner
):
    owner.language = "uk"
    owner.save(update_fields=["language"])
    ReleaseNote.objects.create(release=land["r113"], language="uk", text="Нове поле в накладній.")
    _work_on(change, consultant, Status.IN_PROGRESS, Status.DONE)
    _prove(land, consultant, land["r113"])
    _approve(change, land["r113"], land, consultant, coordinator)

    deployment = _to_production(land, consultant, land["r113"], [change])

    change.refresh_from_db()
    assert change.status == Status.RELEASED and change.released_at is not None
    assert not SlaClock.objects.filter(ticket=change, stopped_at__isnull=True).exists()
    moved = Event.objects.get(ticket=change, action="desk.ticket.status_changed", new="released")
    assert moved.actor == consultant and "11.3" in moved.note and "Production" in moved.note
    mail = OutboundMail.objects.get(ticket=change, recipient=owner, kind="delivered")
    assert mail.language == "uk"
    assert "11.3" in mail.subject
    assert "Нове поле в накладній." in mail.body_text
    assert not OutboundMail.objects.filter(ticket=change, recipient=owner, kind="released").exists()
    assert Notification.objects.filter(user=owner, ticket=change, kind="delivered").count() == 1
    assert deployment.change_links.get().approval is not None


def test_a_change_still_in_backlog_is_delivered_too_and_its_clock_stops(
    land, consultant, change, coordinator
):
    _prove(land, consultant, land["r113"])
    _approve(change, land["r113"], land, consultant, coordinator)
    _to_production(land, consultant, land["r113"], [change])
    change.refresh_from_db()
    assert change.status == Status.RELEASED
    assert change.resolved_at is not None
    assert not SlaClock.objects.filter(ticket=change, stopped_at__isnull=True).exists()


def test_requests_marked_on_a_release_are_delivered_by_it_or_a_later_one(
    land, consultant, owner, org
):
    fixed = ticket_for(owner, org, subject="Posting crashes", category=Category.INCIDENT)
    _work_on(fixed, consultant, Status.IN_PROGRESS, Status.DONE)
    services.mark_delivered(release=land["r113"], ticket=fixed, actor=consultant)
    assert Event.objects.filter(ticket=fixed, action="lifecycle.release.delivers").exists()

    _prove(land, consultant, land["r113sp1"])
    fixed.refresh_from_db()
    assert fixed.status == Status.DONE  # a test environment delivers nothing

    deployment = _to_production(land, consultant, land["r113sp1"])
    fixed.refresh_from_db()
    assert fixed.status == Status.RELEASED
    assert list(deployment.change_links.values_list("ticket", flat=True)) == [fixed.pk]


def test_a_failed_production_deployment_delivers_nothing(land, consultant, owner, org):
    fixed = ticket_for(owner, org, category=Category.PROBLEM)
    _work_on(fixed, consultant, Status.IN_PROGRESS, Status.DONE)
    services.mark_delivered(release=land["r113"], ticket=fixed, actor=consultant)
    _prove(land, consultant, land["r113"])
    _to_production(land, consultant, land["r113"], result=Deployment.Result.FAILED)
    fixed.refresh_from_db()
    assert fixed.status == Status.DONE
    assert not OutboundMail.objects.filter(ticket=fixed, kind="delivered").exists()


def test_another_customers_production_does_not_deliver_my_request(
    land, consultant, owner, org, other_org
):
    fixed = ticket_for(owner, org, category=Category.INCIDENT)
    services.mark_delivered(release=land["r113"], ticket=fixed, actor=consultant)
    theirs = landscape(other_org)
    deploy(
        release=land["r113"],
        environment=theirs["test"],
        actor=consultant,
        result=SUCCEEDED,
        deployed_at=T0,
    )
    deploy(
        release=land["r113"],
        environment=theirs["production"],
        actor=consultant,
        result=SUCCEEDED,
        deployed_at=T0 + timedelta(days=1),
    )
    fixed.refresh_from_db()
    assert fixed.status == Status.BACKLOG


def test_an_earlier_release_does_not_deliver_what_a_later_one_carries(land, consultant, owner, org):
    fixed = ticket_for(owner, org, category=Category.INCIDENT)
    services.mark_delivered(release=land["r113sp1"], ticket=fixed, actor=consultant)
    _prove(land, consultant, land["r113"])
    _to_production(land, consultant, land["r113"])
    fixed.refresh_from_db()
    assert fixed.status == Status.BACKLOG


def test_what_a_release_delivers_is_checked(land, consultant, owner, org, other_org, outsider):
    question = ticket_for(owner, org, category=Category.CONSULTATION)
    with pytest.raises(ValidationError, match="a release delivers change requests"):
        services.mark_delivered(release=land["r113"], ticket=question, actor=consultant)
    foreign = ticket_for(outsider, other_org, category=Category.INCIDENT)
    with pytest.raises(ValidationError, match="runs no system"):
        services.mark_delivered(release=land["r113"], ticket=foreign, actor=consultant)
    with pytest.raises(PermissionDenied):
        services.mark_delivered(release=land["r113"], ticket=question, actor=owner)


def test_a_restricted_agent_cannot_mark_another_customers_request(
    land, owner, org, other_org, outsider
):
    landscape(other_org)
    foreign = ticket_for(outsider, other_org, category=Category.INCIDENT)
    restricted = staff(Role.CONSULTANT, username="restricted")
    AgentRestriction.objects.create(user=restricted, organisation=org)
    with pytest.raises(PermissionDenied):
        services.mark_delivered(release=land["r113"], ticket=foreign, actor=restricted)
    assert not foreign.delivered_by.exists()


# -- the customer's approval stands for one release --------------------------------------


def test_an_approval_used_for_one_release_cannot_be_reused_for_the_next(
    land, consultant, change, coordinator
):
    _prove(land, consultant, land["r113"])
    approval = approvals.request(ticket=change, actor=consultant, action="Deploy to production")
    approvals.decide(approval=approval, user=coordinator, approve=True, via=Approval.Via.PORTAL)
    _to_production(land, consultant, land["r113"], [change])
    assert ChangeLink.objects.get(ticket=change).approval == approval

    desk.transition(ticket=change, actor=coordinator, target=Status.IN_PROGRESS, reason="Wrong")
    _prove(land, consultant, land["r113sp1"], at=T0 + timedelta(days=2))
    with pytest.raises(DeploymentRefused) as excinfo:
        _to_production(land, consultant, land["r113sp1"], [change], at=T0 + timedelta(days=3))
    assert "no customer approval for 11.3 SP1" in _reasons(excinfo)


def test_an_approval_bound_to_another_release_does_not_count(land, consultant, change, coordinator):
    _prove(land, consultant, land["r113sp1"])
    _approve(change, land["r113"], land, consultant, coordinator)
    assert ReleaseApproval.objects.get().release == land["r113"]
    with pytest.raises(DeploymentRefused) as excinfo:
        _to_production(land, consultant, land["r113sp1"], [change])
    assert "no customer approval for 11.3 SP1" in _reasons(excinfo)


def test_a_release_approval_names_the_release_in_the_customers_mail(
    land, consultant, change, coordinator
):
    approval = services.ask_release_approval(
        ticket=change, release=land["r113"], environment=land["production"], actor=consultant
    )
    assert "11.3" in approval.action and "Production" in approval.action
    assert OutboundMail.objects.filter(recipient=coordinator, kind="approval").exists()


@pytest.mark.parametrize("where", ["environment", "contract"])
def test_a_rule_can_require_approval_for_every_production_change(land, consultant, where):
    if where == "environment":
        Environment.objects.filter(pk=land["production"].pk).update(needs_approval=True)
    else:
        land["contract"].production_changes_need_approval = True
        land["contract"].save()
    _prove(land, consultant, land["r113"])
    with pytest.raises(DeploymentRefused) as excinfo:
        _to_production(land, consultant, land["r113"])
    assert "need the customer's approval" in _reasons(excinfo)
    # A test environment is not bound by it.
    _prove(land, consultant, land["r113sp1"], at=T0 + timedelta(hours=2))


def test_with_the_rule_an_approved_change_lets_the_release_through(
    land, consultant, change, coordinator
):
    Environment.objects.filter(pk=land["production"].pk).update(needs_approval=True)
    _prove(land, consultant, land["r113"])
    _approve(change, land["r113"], land, consultant, coordinator)
    assert _to_production(land, consultant, land["r113"], [change]).result == SUCCEEDED


# -- dates and the version before -------------------------------------------------------


def test_a_deployment_before_the_release_date_is_refused(land, consultant):
    future = release(land["product"], "11.4", released_on=date(2026, 3, 10))
    with pytest.raises(DeploymentRefused) as excinfo:
        deploy(
            release=future,
            environment=land["test"],
            actor=consultant,
            result=SUCCEEDED,
            deployed_at=T0,
        )
    assert "released on 2026-03-10" in _reasons(excinfo)
    assert not Deployment.objects.exists()


def test_the_version_before_follows_the_deployments_own_time(land, consultant):
    later = deploy(
        release=land["r113sp1"],
        environment=land["training"],
        actor=consultant,
        result=SUCCEEDED,
        deployed_at=T0 + timedelta(days=2),
    )
    assert later.previous_version == "11.2"
    earlier = deploy(
        release=land["r113"],
        environment=land["training"],
        actor=consultant,
        result=SUCCEEDED,
        deployed_at=T0,
    )
    assert earlier.previous_version == "11.2"
    later.refresh_from_db()
    assert later.previous_version == "11.3"
    land["training"].refresh_from_db()
    assert land["training"].version == "11.3 SP1"


def test_a_failover_that_differs_from_production_is_flagged(land, consultant):
    failover = Environment.objects.create(
        system=land["system"], kind=Environment.Kind.BACKUP, name="Failover", version="11.2"
    )
    (row,) = services.version_rows(Environment.objects.filter(pk=failover.pk))
    assert not row["drift"]
    Environment.objects.filter(pk=failover.pk).update(version="11.1")
    (row,) = services.version_rows(Environment.objects.filter(pk=failover.pk))
    assert row["drift"] and row["production_version"] == "11.2"
    (production,) = services.version_rows(Environment.objects.filter(pk=land["production"].pk))
    assert not production["drift"]


def test_an_area_may_have_several_parties_each_with_scope_and_response_time(
    land, client_for, coordinator
):
    from django.urls import reverse

    from aftercare.lifecycle.models import Party, Responsibility

    contract = land["contract"]
    Responsibility.objects.create(
        contract=contract,
        area=Responsibility.Area.MONITORING,
        party=Party.PROVIDER,
        party_name="Host Co",
        scope="Availability",
        response_hours=1,
    )
    Responsibility.objects.create(
        contract=contract,
        area=Responsibility.Area.MONITORING,
        party=Party.VENDOR,
        scope="Application errors",
        response_hours=4,
    )
    html = client_for(coordinator).get(reverse("lifecycle_portal:environments")).content.decode()
    assert "Host Co" in html and "Application errors" in html
    assert "4 business hours" in html and "1 business hour<" in html
    assert "Pre-sales" in html and "Hardware" in html  # every area is listed


# -- the notes on the requests are read in the reader's language ---------------------------


def test_delivery_and_deployment_notes_render_in_each_readers_language(
    land, consultant, change, coordinator
):
    from django.utils import translation

    _work_on(change, consultant, Status.IN_PROGRESS, Status.DONE)
    _prove(land, consultant, land["r113"])
    _approve(change, land["r113"], land, consultant, coordinator)
    with translation.override("en"):
        services.mark_delivered(release=land["r113"], ticket=change, actor=consultant)
        _to_production(land, consultant, land["r113"], [change])

    marked = Event.objects.get(ticket=change, action="lifecycle.release.delivers")
    moved = Event.objects.get(ticket=change, action="desk.ticket.status_changed", new="released")
    recorded = Event.objects.filter(ticket=change, action="lifecycle.deployment.recorded").latest(
        "pk"
    )
    assert marked.note_id == "To be delivered with %(product)s %(release)s."
    assert moved.note_id == "Delivered with %(product)s %(release)s on %(environment)s."
    assert recorded.note_params["kind"] == {"msgid": "Production"}
    assert recorded.note_params["result"] == {"msgid": "Succeeded"}
    for event in (marked, moved, recorded):
        assert "11.3" in event.note and event.is_internal in (True, False)
        with translation.override("en"):
            english = event.display_note
        assert english == event.note  # stored text: the language it was written in
        for language in ("ro", "fr", "uk", "ru"):
            with translation.override(language):
                shown = event.display_note
            assert "11.3" in shown
            assert shown != english, (language, event.action, shown)
    with translation.override("ro"):
        assert "Producție" in recorded.display_note or "producție" in recorded.display_note
        assert "Succeeded" not in recorded.display_note
