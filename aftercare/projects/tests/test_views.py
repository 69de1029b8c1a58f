"""The console and portal pages, per role (the three-user cast and the staff roles)."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from aftercare.desk.tests.factories import ticket_for
from aftercare.projects import services
from aftercare.projects.models import Project, Side, Snag, StageKind
from aftercare.projects.tests.factories import close_through

pytestmark = pytest.mark.django_db


def plan_url(project):
    return reverse("projects:detail", args=[project.pk])


@pytest.mark.parametrize("role", ["operator", "developer", "consultant", "manager"])
def test_every_agent_sees_the_list_and_the_plan(request, role, project, client_for):
    client = client_for(request.getfixturevalue(role))
    body = client.get(reverse("projects:list")).content.decode()
    assert project.name in body
    response = client.get(plan_url(project))
    assert response.status_code == 200
    assert "Go-live test session" in response.content.decode()


@pytest.mark.parametrize("role", ["operator", "developer"])
def test_viewers_get_no_buttons_and_cannot_post(request, role, project, client_for):
    client = client_for(request.getfixturevalue(role))
    body = client.get(plan_url(project)).content.decode()
    assert "Close stage" not in body and "Save checklist" not in body
    stage = project.stages.get(position=1)
    response = client.post(plan_url(project), {"action": "close_stage", "stage": stage.pk})
    assert response.status_code == 403
    assert client.get(reverse("projects:new")).status_code == 403
    assert client.get(reverse("projects:templates")).status_code == 403


@pytest.mark.parametrize("who", ["owner", "coordinator"])
def test_customers_get_403_in_the_console(request, who, project, client_for):
    client = client_for(request.getfixturevalue(who))
    for url in (
        reverse("projects:list"),
        plan_url(project),
        reverse("projects:snags", args=[project.pk]),
    ):
        assert client.get(url).status_code == 403


def test_a_consultant_creates_a_project_from_the_template(consultant, org, template, client_for):
    client = client_for(consultant)
    response = client.post(
        reverse("projects:new"),
        {
            "organisation": org.pk,
            "name": "Payroll go-live",
            "go_live_on": "2030-03-01",
            "template": template.pk,
        },
    )
    project = Project.objects.get(name="Payroll go-live")
    assert response["Location"] == plan_url(project)
    assert project.stages.count() == 8 and project.created_by == consultant


def test_a_new_project_with_bad_input_is_shown_again_with_errors(
    consultant, org, template, client_for
):
    response = client_for(consultant).post(
        reverse("projects:new"),
        {
            "organisation": org.pk,
            "name": "Kept name",
            "go_live_on": "not a date",
            "template": template.pk,
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Kept name" in body and "errorlist" in body
    assert not Project.objects.exists()


def test_a_restricted_agent_cannot_create_a_project_for_another_organisation(
    manager, org, other_org, template, client_for
):
    from aftercare.tenancy.models import AgentRestriction

    AgentRestriction.objects.create(user=manager, organisation=org)
    response = client_for(manager).post(
        reverse("projects:new"),
        {
            "organisation": other_org.pk,
            "name": "x",
            "go_live_on": "2030-03-01",
            "template": template.pk,
        },
    )
    assert response.status_code == 400
    assert not Project.objects.exists()


def test_closing_a_stage_with_open_criteria_shows_the_reason(project, consultant, client_for):
    client = client_for(consultant)
    stage = project.stages.get(position=1)
    response = client.post(
        plan_url(project), {"action": "close_stage", "stage": stage.pk}, follow=True
    )
    assert "Gate criteria still open" in response.content.decode()
    stage.refresh_from_db()
    assert stage.closed_at is None
    ids = list(stage.criteria.values_list("pk", flat=True))
    client.post(plan_url(project), {"action": "criteria", "stage": stage.pk, "met": ids})
    response = client.post(
        plan_url(project), {"action": "close_stage", "stage": stage.pk}, follow=True
    )
    assert "closed." in response.content.decode()
    stage.refresh_from_db()
    assert stage.closed_at is not None


def test_the_backup_rule_is_reported_on_the_page(project, consultant, client_for):
    session = project.stages.get(kind=StageKind.TEST_SESSION)
    other = session.criteria.get(text="Credentials distributed")
    response = client_for(consultant).post(
        plan_url(project),
        {"action": "criteria", "stage": session.pk, "met": [other.pk]},
        follow=True,
    )
    assert "must be met before any other criterion" in response.content.decode()
    assert not session.criteria.filter(met_at__isnull=False).exists()


def test_ids_of_another_project_are_refused(project, other_project, consultant, client_for):
    theirs = other_project.stages.get(position=1)
    client = client_for(consultant)
    response = client.post(
        plan_url(project),
        {
            "action": "criteria",
            "stage": theirs.pk,
            "met": list(theirs.criteria.values_list("pk", flat=True)),
        },
        follow=True,
    )
    assert "Unknown stage" in response.content.decode()
    assert not theirs.criteria.filter(met_at__isnull=False).exists()
    participant = services.add_participant(
        project=other_project, actor=consultant, name="Boris", side=Side.CUSTOMER
    )
    client.post(
        plan_url(project), {"action": "mark", "participant": participant.pk, "what": "login"}
    )
    participant.refresh_from_db()
    assert participant.login_tested_at is None


def test_participants_are_added_and_their_login_test_recorded(
    project, consultant, owner, client_for
):
    client = client_for(consultant)
    client.post(
        plan_url(project),
        {
            "action": "participant",
            "user": owner.pk,
            "side": "customer",
            "role": "Key user",
            "is_target_user": "on",
        },
    )
    participant = project.participants.get()
    assert participant.user == owner and participant.is_target_user
    response = client.post(
        plan_url(project), {"action": "mark", "participant": participant.pk, "what": "login"}
    )
    assert response.status_code == 400
    assert "before their credentials are marked received" in response.content.decode()
    participant.refresh_from_db()
    assert participant.login_tested_at is None
    for what in ("credentials", "login"):
        client.post(
            plan_url(project), {"action": "mark", "participant": participant.pk, "what": what}
        )
    participant.refresh_from_db()
    assert participant.login_tested_at is not None


def test_the_notice_warning_is_on_the_plan_page(project, consultant, client_for, time_machine):
    time_machine.move_to("2030-04-02 12:00Z", tick=False)
    client = client_for(consultant)
    assert 'id="notice-warning"' in client.get(plan_url(project)).content.decode()
    response = client.post(plan_url(project), {"action": "informed", "on": "2030-04-03"})
    assert response.status_code == 400 and "in the future" in response.content.decode()
    client.post(plan_url(project), {"action": "informed", "on": "2030-04-01"})
    assert 'id="notice-warning"' not in client.get(plan_url(project)).content.decode()


def test_incidents_open_a_request_or_link_only_the_same_organisation(
    project, consultant, owner, outsider, other_org, client_for
):
    client = client_for(consultant)
    client.post(
        plan_url(project),
        {
            "action": "incident_open",
            "subject": "Cannot print",
            "description": "From the test session",
            "reporter": owner.pk,
        },
    )
    incident = project.incidents.get()
    assert incident.ticket.subject == "Cannot print"
    theirs = ticket_for(outsider, other_org)
    response = client.post(plan_url(project), {"action": "incident_link", "number": theirs.number})
    assert response.status_code == 400
    assert "No request with this number" in response.content.decode()
    assert project.incidents.count() == 1


def test_the_decision_form_records_a_postponement(project, consultant, client_for):
    p = services.add_participant(project=project, actor=consultant, name="Ana", side=Side.CUSTOMER)
    client = client_for(consultant)
    response = client.post(
        plan_url(project),
        {
            "action": "decision",
            "outcome": "postpone",
            "decided_on": "2030-05-20",
            "participants": [p.pk],
            "reasons": "Not ready",
            "new_go_live_on": "2030-06-20",
        },
        follow=True,
    )
    assert "Decision recorded" in response.content.decode()
    project.refresh_from_db()
    assert project.go_live_on == date(2030, 6, 20)


def test_a_refused_go_keeps_what_was_typed(project, consultant, client_for):
    p = services.add_participant(project=project, actor=consultant, name="Ana", side=Side.CUSTOMER)
    response = client_for(consultant).post(
        plan_url(project),
        {
            "action": "decision",
            "outcome": "go",
            "decided_on": "2030-05-20",
            "participants": [p.pk],
            "reasons": "Typed reasons stay",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Typed reasons stay" in body and "still open" in body
    assert not project.decisions.exists()


def test_the_snag_list_page(project, consultant, owner, coordinator, client_for):
    client = client_for(consultant)
    url = reverse("projects:snags", args=[project.pk])
    client.post(url, {"action": "add", "text": "Fix the invoice layout", "owner": owner.pk})
    snag = project.snags.get()
    response = client.post(url, {"action": "status", "snag": snag.pk, "status": "dropped"})
    assert response.status_code == 400 and "Say why" in response.content.decode()
    client.post(url, {"action": "ticket", "snag": snag.pk})
    snag.refresh_from_db()
    assert snag.ticket is not None
    response = client.post(plan_url(project), {"action": "close_project"}, follow=True)
    assert "still open" in response.content.decode()
    client.post(url, {"action": "status", "snag": snag.pk, "status": "done"})
    response = client.post(plan_url(project), {"action": "close_project"}, follow=True)
    assert "has not confirmed 1 fixed action point" in response.content.decode()
    assert "awaiting the customer" in client.get(url).content.decode()
    services.sign_off(project=project, actor=coordinator, kind="snag", snag=snag)
    assert "awaiting the customer" not in client.get(url).content.decode()
    client.post(plan_url(project), {"action": "close_project"})
    project.refresh_from_db()
    assert project.status == Project.Status.CLOSED
    assert snag.__class__.objects.get().status == Snag.Status.DONE


def test_the_template_editor_is_for_managers(template, manager, consultant, client_for):
    assert client_for(consultant).get(reverse("projects:templates")).status_code == 403
    client = client_for(manager)
    url = reverse("projects:templates")
    assert "Go-live test session" in client.get(url).content.decode()
    first = template.stages.get(position=1)
    client.post(
        url,
        {
            "template": template.pk,
            "action": "add_task",
            "stage": first.pk,
            "text": "Agree the calendar",
        },
    )
    assert first.tasks.filter(text="Agree the calendar").exists()
    second = template.stages.get(position=2)
    client.post(url, {"template": template.pk, "action": "up", "kind": "stage", "item": second.pk})
    second.refresh_from_db()
    assert second.position == 1
    client.post(
        url,
        {
            "template": template.pk,
            "action": "edit_stage",
            "stage": second.pk,
            f"ts{second.pk}-title": "Infrastructure ready",
            f"ts{second.pk}-kind": "plain",
            f"ts{second.pk}-due_offset_days": "45",
        },
    )
    second.refresh_from_db()
    assert (second.title, second.due_offset_days) == ("Infrastructure ready", 45)
    task = first.tasks.get(text="Agree the calendar")
    client.post(url, {"template": template.pk, "action": "delete", "kind": "task", "item": task.pk})
    assert not first.tasks.filter(pk=task.pk).exists()


def test_customers_see_their_own_plans_read_only(
    project, other_project, owner, coordinator, consultant, client_for
):
    close_through(project, consultant, 1)
    services.add_snag(project=project, actor=consultant, text="Adjust the report")
    for user in (owner, coordinator):
        client = client_for(user)
        listing = client.get(reverse("project_portal:list")).content.decode()
        assert project.name in listing and other_project.name not in listing
        page = client.get(reverse("project_portal:detail", args=[project.pk]))
        body = page.content.decode()
        assert page.status_code == 200
        assert "Adjust the report" in body
        assert "Close stage" not in body and "Save checklist" not in body
        # Only a coordinator signs for the customer: the sign-off forms, and nothing else.
        forms_on_page = body.count('<form method="post" class')
        if user == coordinator:
            assert 'id="sign-plan-form"' in body and forms_on_page == 1
        else:
            assert 'id="sign-plan-form"' not in body and forms_on_page == 0
        assert (
            client.get(reverse("project_portal:detail", args=[other_project.pk])).status_code == 404
        )
        response = client.post(
            reverse("project_portal:detail", args=[project.pk]), {"action": "close_stage"}
        )
        assert response.status_code in (200, 405)


def test_staff_opening_a_portal_page_go_to_the_console(project, operator, client_for):
    response = client_for(operator).get(reverse("project_portal:detail", args=[project.pk]))
    assert response["Location"] == plan_url(project)


def test_the_list_reads_a_fixed_number_of_queries(
    template, manager, org, operator, client_for, django_assert_max_num_queries
):
    for i in range(5):
        services.create_project(
            actor=manager,
            organisation=org,
            name=f"P{i}",
            go_live_on=date(2030, 1, 1 + i),
            template=template,
        )
    client = client_for(operator)
    client.get(reverse("projects:list"))
    with django_assert_max_num_queries(12):
        client.get(reverse("projects:list"))
