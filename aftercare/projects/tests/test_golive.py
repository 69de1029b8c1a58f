"""Sign-offs, plan versions, the stronger go-live gates, test sessions and the people
named on the plan: through the services, the console and the portal, as every side."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from aftercare.accounts.roles import Role
from aftercare.desk.models import Category, Ticket
from aftercare.ops import maintenance
from aftercare.ops.maintenance import MaintenanceError
from aftercare.projects import services
from aftercare.projects.models import (
    CriterionRule,
    Decision,
    ProjectEvent,
    Side,
    SignOff,
    Snag,
    StageKind,
)
from aftercare.projects.services import PlanError
from aftercare.projects.tests.factories import close_through, meet_all, sign_both
from aftercare.tenancy.models import AgentRestriction, ContactPerson
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db


def plan_url(project):
    return reverse("projects:detail", args=[project.pk])


def portal_url(project):
    return reverse("project_portal:detail", args=[project.pk])


def sign_url(project):
    return reverse("project_portal:sign", args=[project.pk])


# -- who signs ----------------------------------------------------------------------------


def test_the_manager_and_the_coordinator_sign_the_plan_with_its_version(
    project, manager, coordinator
):
    vendor = services.sign_off(project=project, actor=manager, kind="plan", note="Agreed")
    customer = services.sign_off(project=project, actor=coordinator, kind="plan")
    assert (vendor.side, vendor.user, vendor.plan_version, vendor.note) == (
        Side.VENDOR,
        manager,
        1,
        "Agreed",
    )
    assert (customer.side, customer.user, customer.plan_version) == (Side.CUSTOMER, coordinator, 1)
    assert services.unsigned(project, SignOff.Kind.PLAN) == []
    with pytest.raises(PlanError, match="already signed"):
        services.sign_off(project=project, actor=coordinator, kind="plan")
    actions = set(ProjectEvent.objects.filter(project=project).values_list("action", flat=True))
    assert "projects.plan.signed" in actions


@pytest.mark.parametrize("who", ["owner", "teammate", "outsider", "consultant", "operator"])
def test_only_a_coordinator_and_a_manager_may_sign(request, who, project):
    user = request.getfixturevalue(who)
    assert services.signing_side(user, project) is None
    with pytest.raises(PermissionDenied):
        services.sign_off(project=project, actor=user, kind="plan")
    assert not SignOff.objects.exists()


def test_a_restricted_manager_cannot_sign_another_organisations_plan(
    project, other_org, org, client_for
):
    restricted = staff(Role.MANAGER, username="restricted")
    AgentRestriction.objects.create(user=restricted, organisation=other_org)
    with pytest.raises(PermissionDenied):
        services.sign_off(project=project, actor=restricted, kind="plan")
    client = client_for(restricted)
    response = client.post(plan_url(project), {"action": "sign", "kind": "plan"})
    assert response.status_code == 404
    response = client.post(sign_url(project), {"kind": "plan"}, follow=True)
    assert response.status_code == 404
    assert client.get(portal_url(project), follow=True).status_code == 404
    assert not SignOff.objects.exists()


def test_the_coordinator_signs_in_the_portal(project, manager, coordinator, client_for):
    services.sign_off(project=project, actor=manager, kind="plan")
    client = client_for(coordinator)
    page = client.get(portal_url(project)).content.decode()
    assert 'id="sign-plan-form"' in page and "not signed" in page
    response = client.post(sign_url(project), {"kind": "plan", "note": "OK for us"}, follow=True)
    body = response.content.decode()
    assert "Signed for Alpha Foods" in body and "signed v1" in body
    signoff = SignOff.objects.get(side=Side.CUSTOMER)
    assert (signoff.user, signoff.note, signoff.plan_version) == (coordinator, "OK for us", 1)
    # A second signature of the same version is refused with the reason, not stored.
    response = client.post(sign_url(project), {"kind": "plan"})
    assert response.status_code == 400 and "already signed" in response.content.decode()
    assert SignOff.objects.filter(side=Side.CUSTOMER).count() == 1
    # A GET of the signing address only leads back to the plan.
    assert client.get(sign_url(project))["Location"] == portal_url(project)


def test_a_plain_customer_user_cannot_sign_in_the_portal(project, owner, client_for):
    client = client_for(owner)
    assert 'id="sign-plan-form"' not in client.get(portal_url(project)).content.decode()
    response = client.post(sign_url(project), {"kind": "plan"})
    assert response.status_code == 403
    assert not SignOff.objects.exists()


def test_a_customer_of_another_organisation_can_neither_see_nor_sign(project, outsider, client_for):
    client = client_for(outsider)
    assert client.get(portal_url(project)).status_code == 404
    response = client.post(sign_url(project), {"kind": "plan"})
    assert response.status_code == 404
    assert project.name not in response.content.decode()
    assert not SignOff.objects.exists()


def test_the_manager_signs_in_the_console_and_a_consultant_gets_no_button(
    project, manager, consultant, client_for
):
    assert (
        'id="sign-plan-form"' not in client_for(consultant).get(plan_url(project)).content.decode()
    )
    response = client_for(consultant).post(plan_url(project), {"action": "sign", "kind": "plan"})
    assert response.status_code == 400 and "may not sign" in response.content.decode()
    client = client_for(manager)
    assert 'id="sign-plan-form"' in client.get(plan_url(project)).content.decode()
    response = client.post(plan_url(project), {"action": "sign", "kind": "plan"}, follow=True)
    assert "Signed for the vendor" in response.content.decode()
    assert SignOff.objects.get().side == Side.VENDOR


def test_signing_is_refused_in_maintenance_mode(project, manager, coordinator, client_for):
    maintenance.switch(True, message="Upgrade", by="tests")
    try:
        with pytest.raises(MaintenanceError):
            services.sign_off(project=project, actor=manager, kind="plan")
        response = client_for(coordinator).post(sign_url(project), {"kind": "plan"})
        assert response.status_code == 503
        with pytest.raises(MaintenanceError):
            services.schedule_test_session(
                project=project,
                actor=manager,
                title="x",
                on=date(2030, 5, 20),
                starts=time(9),
                ends=time(10),
            )
    finally:
        maintenance.switch(False, by="tests")
    assert not SignOff.objects.exists()


# -- plan versions ---------------------------------------------------------------------------


def test_a_plan_change_after_a_signature_makes_a_new_version(
    project, manager, coordinator, client_for
):
    first = project.stages.get(position=1)
    # Before anyone signed, a change keeps version 1.
    services.update_stage(
        stage=first, actor=manager, vendor_owner=None, customer_owner=None, due_on=date(2030, 4, 1)
    )
    project.refresh_from_db()
    assert project.plan_version == 1
    sign_both(project, manager, coordinator)
    # Ticking a criterion is progress, not a change of the plan.
    services.set_criterion(criterion=first.criteria.first(), actor=manager, met=True)
    project.refresh_from_db()
    assert project.plan_version == 1
    services.update_stage(
        stage=first, actor=manager, vendor_owner=None, customer_owner=None, due_on=date(2030, 4, 2)
    )
    project.refresh_from_db()
    assert project.plan_version == 2
    reasons = services.unsigned(project, SignOff.Kind.PLAN)
    assert len(reasons) == 2 and all("outdated" in r for r in reasons)
    body = client_for(coordinator).get(portal_url(project)).content.decode()
    assert "outdated: v1" in body and "Plan version 2" in body
    services.sign_off(project=project, actor=coordinator, kind="plan")
    assert services.unsigned(project, SignOff.Kind.PLAN) == [
        "The Vendor side's signature of the plan is outdated: version 2 must be signed again."
    ]


# -- the go/no-go decision -------------------------------------------------------------------


def _participants(project, manager):
    return [
        services.add_participant(project=project, actor=manager, name="Ana", side=Side.CUSTOMER)
    ]


def test_go_needs_both_current_plan_signatures_and_a_co_signed_decision(
    project, manager, coordinator, client_for
):
    people = _participants(project, manager)
    close_through(project, manager, 6)
    services.sign_off(project=project, actor=manager, kind="plan")
    with pytest.raises(PlanError, match="Customer side has not signed version 1"):
        services.decide(
            project=project,
            actor=manager,
            outcome=Decision.Outcome.GO,
            decided_on=date(2030, 5, 28),
            reasons="Ready",
            participants=people,
        )
    with pytest.raises(PlanError, match="No go/no-go decision"):
        services.sign_off(project=project, actor=coordinator, kind="decision")
    services.sign_off(project=project, actor=coordinator, kind="plan")
    services.decide(
        project=project,
        actor=manager,
        outcome=Decision.Outcome.GO,
        decided_on=date(2030, 5, 28),
        reasons="Ready",
        participants=people,
    )
    stage = project.stages.get(kind=StageKind.DECISION)
    meet_all(stage, manager)
    with pytest.raises(PlanError) as info:
        services.close_stage(stage=stage, actor=manager)
    assert "Customer side has not co-signed" in info.value.message
    assert "Vendor side has not co-signed" in info.value.message
    response = client_for(coordinator).post(sign_url(project), {"kind": "decision"}, follow=True)
    assert "Go/no-go decision, plan version 1" in response.content.decode()
    client_for(manager).post(plan_url(project), {"action": "sign", "kind": "decision"})
    services.close_stage(stage=stage, actor=manager)
    assert SignOff.objects.filter(kind="decision").count() == 2


# -- snag fixes --------------------------------------------------------------------------------


def test_the_customer_confirms_a_fixed_snag(project, manager, coordinator, client_for):
    snag = services.add_snag(project=project, actor=manager, text="Invoice VAT column")
    client = client_for(coordinator)
    response = client.post(sign_url(project), {"kind": "snag", "snag": snag.pk})
    assert response.status_code == 400 and "marked done" in response.content.decode()
    services.set_snag_status(snag=snag, actor=manager, status=Snag.Status.DONE)
    with pytest.raises(PermissionDenied, match="Only the customer"):
        services.sign_off(project=project, actor=manager, kind="snag", snag=snag)
    page = client.get(portal_url(project)).content.decode()
    assert "Confirm the fix" in page
    response = client.post(sign_url(project), {"kind": "snag", "snag": snag.pk}, follow=True)
    assert "Fix confirmed: Invoice VAT column" in response.content.decode()
    snag.refresh_from_db()
    assert services.is_confirmed(snag)
    # Reopened and fixed again: the old confirmation no longer counts.
    services.set_snag_status(snag=snag, actor=manager, status=Snag.Status.IN_PROGRESS)
    services.set_snag_status(snag=snag, actor=manager, status=Snag.Status.DONE)
    snag.refresh_from_db()
    assert not services.is_confirmed(snag)


def test_a_snag_of_another_project_cannot_be_confirmed(
    project, other_project, manager, coordinator, client_for
):
    theirs = services.add_snag(project=other_project, actor=manager, text="Beta printer")
    services.set_snag_status(snag=theirs, actor=manager, status=Snag.Status.DONE)
    response = client_for(coordinator).post(sign_url(project), {"kind": "snag", "snag": theirs.pk})
    assert response.status_code == 400 and "Unknown action point" in response.content.decode()
    assert not SignOff.objects.exists()


def test_a_snag_becomes_a_request_of_the_chosen_category(project, manager, owner, client_for):
    snag = services.add_snag(project=project, actor=manager, text="Label printer crashes")
    default = services.add_snag(project=project, actor=manager, text="Rename a field")
    url = reverse("projects:snags", args=[project.pk])
    client = client_for(manager)
    assert 'name="category"' in client.get(url).content.decode()
    client.post(url, {"action": "ticket", "snag": snag.pk, "category": "incident"})
    client.post(url, {"action": "ticket", "snag": default.pk})
    snag.refresh_from_db()
    default.refresh_from_db()
    assert snag.ticket.category == Category.INCIDENT
    assert default.ticket.category == Category.CHANGE
    odd = services.add_snag(project=project, actor=manager, text="Odd")
    response = client.post(url, {"action": "ticket", "snag": odd.pk, "category": "coffee"})
    assert response.status_code == 400
    odd.refresh_from_db()
    assert odd.ticket is None


# -- the gates -----------------------------------------------------------------------------------


def test_credentials_distributed_follows_the_participants(project, manager):
    session = project.stages.get(kind=StageKind.TEST_SESSION)
    services.set_criterion(
        criterion=session.criteria.get(must_be_first=True), actor=manager, met=True
    )
    credentials = session.criteria.get(rule=CriterionRule.CREDENTIALS_DISTRIBUTED)
    with pytest.raises(PlanError, match="No target users"):
        services.set_criterion(criterion=credentials, actor=manager, met=True)
    ana = services.add_participant(project=project, actor=manager, name="Ana", side=Side.CUSTOMER)
    with pytest.raises(PlanError, match="not received their credentials yet: Ana"):
        services.set_criterion(criterion=credentials, actor=manager, met=True)
    with pytest.raises(PlanError, match="before their credentials are marked received"):
        services.mark_participant(participant=ana, actor=manager, what="login")
    services.mark_participant(participant=ana, actor=manager, what="credentials")
    services.set_criterion(criterion=credentials, actor=manager, met=True)
    services.mark_participant(participant=ana, actor=manager, what="login")
    with pytest.raises(PlanError) as info:
        services.mark_participant(participant=ana, actor=manager, what="credentials", done=False)
    assert "clear the login test first" in info.value.message
    assert "Open the criterion “credentials distributed”" in info.value.message


def test_users_informed_cannot_be_in_the_future(project, manager, time_machine):
    time_machine.move_to("2030-05-01 10:00Z", tick=False)
    with pytest.raises(PlanError, match="in the future"):
        services.record_users_informed(project=project, actor=manager, on=date(2030, 5, 2))
    project.refresh_from_db()
    assert project.users_informed_on is None
    criterion = project.stages.get(position=5).criteria.first()
    type(criterion).objects.filter(pk=criterion.pk).update(rule=CriterionRule.USERS_INFORMED)
    criterion.refresh_from_db()
    with pytest.raises(PlanError, match="Record when the users were informed"):
        services.set_criterion(criterion=criterion, actor=manager, met=True)
    services.record_users_informed(project=project, actor=manager, on=date(2030, 5, 1))
    services.set_criterion(criterion=criterion, actor=manager, met=True)


def test_the_project_cannot_close_with_open_incidents(project, manager, owner):
    incident = services.open_incident(
        project=project, actor=manager, subject="Login fails", description="x", reporter=owner
    )
    snag = services.add_snag(project=project, actor=manager, text="Night shift")
    with pytest.raises(PlanError) as info:
        services.close_project(project=project, actor=manager)
    # Every reason at once.
    assert "1 action point(s)" in info.value.message
    assert f"1 incident(s) of the test session are still open: {incident.ticket.number}" in (
        info.value.message
    )
    services.set_snag_status(snag=snag, actor=manager, status=Snag.Status.DROPPED, reason="n/a")
    for status in ("done", "waiting"):
        Ticket.objects.filter(pk=incident.ticket_id).update(status=status)
        with pytest.raises(PlanError, match="incident"):
            services.close_project(project=project, actor=manager)
    Ticket.objects.filter(pk=incident.ticket_id).update(status="released")
    services.close_project(project=project, actor=manager)


# -- test sessions --------------------------------------------------------------------------------


@pytest.fixture
def contact(org):
    return ContactPerson.objects.create(organisation=org, name="Ioana IT", role="IT manager")


def test_a_test_session_is_scheduled_in_the_organisations_time_zone(
    project, manager, consultant, contact, owner, client_for
):
    session = services.schedule_test_session(
        project=project,
        actor=manager,
        title="Dry run",
        on=date(2030, 5, 20),
        starts=time(9, 0),
        ends=time(12, 30),
        staff_attendees=[consultant],
        contact_attendees=[contact],
    )
    # Bucharest is UTC+3 in May.
    assert session.starts_at == datetime.fromisoformat("2030-05-20T06:00:00+00:00")
    assert session.ends_at == datetime.fromisoformat("2030-05-20T09:30:00+00:00")
    body = client_for(owner).get(portal_url(project)).content.decode()
    assert "Dry run" in body and "09:00–12:30" in body and "Ioana IT" in body
    assert consultant.display_name in body
    console = client_for(manager).get(plan_url(project)).content.decode()
    assert "Dry run" in console and "Europe/Bucharest" in console


def test_a_refused_session_lists_every_reason(
    project, manager, owner, other_org, client_for, contact
):
    foreign = ContactPerson.objects.create(organisation=other_org, name="Boris Beta")
    with pytest.raises(PlanError) as info:
        services.schedule_test_session(
            project=project,
            actor=manager,
            title=" ",
            on=date(2030, 3, 31),
            starts=time(3, 30),  # Bucharest skips 03:00-04:00 that night
            ends=time(3, 0),
            staff_attendees=[owner],
            contact_attendees=[foreign],
        )
    message = info.value.message
    for part in (
        "title",
        "03:30 does not exist",
        "Not members of staff",
        "Not contacts of Alpha Foods: Boris Beta",
    ):
        assert part in message, part
    assert not project.test_sessions.exists()
    # The console form keeps what was typed and says why.
    response = client_for(manager).post(
        plan_url(project),
        {
            "action": "session",
            "title": "Typed title",
            "on": "2030-05-20",
            "starts": "10:00",
            "ends": "09:00",
            "staff_attendees": [manager.pk],
            "contact_attendees": [contact.pk],
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Typed title" in body and "must end after it starts" in body


def test_the_console_schedules_and_cancels_a_session(
    project, manager, consultant, contact, client_for
):
    client = client_for(manager)
    client.post(
        plan_url(project),
        {
            "action": "session",
            "title": "Go-live rehearsal",
            "on": "2030-05-25",
            "starts": "14:00",
            "ends": "16:00",
            "staff_attendees": [consultant.pk],
            "contact_attendees": [contact.pk],
        },
    )
    session = project.test_sessions.get()
    assert list(session.staff_attendees.all()) == [consultant]
    assert list(session.contact_attendees.all()) == [contact]
    client.post(plan_url(project), {"action": "session_cancel", "session": session.pk})
    assert not project.test_sessions.exists()


def test_another_organisations_customer_never_sees_a_session(
    project, manager, consultant, contact, outsider, other_project, client_for
):
    services.schedule_test_session(
        project=project,
        actor=manager,
        title="Alpha dry run",
        on=date(2030, 5, 20),
        starts=time(9),
        ends=time(10),
        staff_attendees=[consultant],
        contact_attendees=[contact],
    )
    client = client_for(outsider)
    assert "Alpha dry run" not in client.get(portal_url(other_project)).content.decode()
    assert client.get(portal_url(project)).status_code == 404


# -- the people named on the plan -----------------------------------------------------------


def test_the_coordinators_belong_to_their_side(
    project, manager, consultant, owner, outsider, client_for
):
    with pytest.raises(PlanError) as info:
        services.set_project_people(
            project=project,
            actor=manager,
            technical_coordinator=owner,
            customer_responsible=outsider,
        )
    assert "must be a member of staff" in info.value.message
    assert "must be a user of Alpha Foods" in info.value.message
    with pytest.raises(PlanError, match="user of Alpha Foods"):
        services.set_project_people(
            project=project,
            actor=manager,
            technical_coordinator=None,
            customer_responsible=consultant,
        )
    client = client_for(manager)
    client.post(
        plan_url(project),
        {
            "action": "people",
            "technical_coordinator": consultant.pk,
            "customer_responsible": owner.pk,
        },
    )
    project.refresh_from_db()
    assert (project.technical_coordinator, project.customer_responsible) == (consultant, owner)
    body = client_for(owner).get(portal_url(project)).content.decode()
    assert f'id="technical-coordinator">{consultant.display_name}<' in body
    assert f'id="customer-responsible">{owner.display_name}<' in body
    # A user of another organisation is not even offered in the form.
    response = client.post(
        plan_url(project),
        {"action": "people", "technical_coordinator": "", "customer_responsible": outsider.pk},
    )
    assert response.status_code == 400
    project.refresh_from_db()
    assert project.customer_responsible == owner


def test_the_go_live_stage_waits_for_the_go_live_date(project, manager, coordinator, time_machine):
    time_machine.move_to("2030-05-30 09:00Z", tick=False)
    people = _participants(project, manager)
    close_through(project, manager, 6)
    sign_both(project, manager, coordinator)
    services.decide(
        project=project,
        actor=manager,
        outcome=Decision.Outcome.GO,
        decided_on=date(2030, 5, 30),
        reasons="Ready",
        participants=people,
    )
    sign_both(project, manager, coordinator, kind="decision")
    close_through(project, manager, 7)
    go_live = project.stages.get(kind=StageKind.GO_LIVE)
    assert "before the go-live date, 2030-06-01" in services.close_refusal(go_live)
    time_machine.move_to("2030-06-01 03:00Z", tick=False)  # 06:00 in Bucharest
    meet_all(go_live, manager)
    services.close_stage(stage=go_live, actor=manager)


def test_the_demo_plan_awaits_the_customers_sign_off(db, client_for):
    import io

    from django.core.management import call_command

    from aftercare.projects.models import Project

    call_command("demo_load", stdout=io.StringIO())
    project = Project.objects.get(organisation__code="carpathia", name="ERP 11 go-live")
    assert [(s.side, s.plan_version) for s in project.signoffs.filter(kind="plan")] == [
        (Side.VENDOR, 1)
    ]
    assert project.test_sessions.count() == 1
    assert project.technical_coordinator is not None and project.customer_responsible is not None
    coordinator = project.customer_responsible
    coordinator.language = "en"  # the demo's coordinator reads Romanian
    coordinator.save(update_fields=["language"])
    body = client_for(coordinator).get(portal_url(project)).content.decode()
    assert 'id="sign-plan-form"' in body and "signed v1" in body and "not signed" in body
