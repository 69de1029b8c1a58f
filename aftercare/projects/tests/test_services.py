"""Every gate and state rule of go-live plans and snag lists, through the services."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied

from aftercare.desk.models import Channel, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.projects import services
from aftercare.projects.defaults import BACKUP_CRITERION, LOGINS_CRITERION, STAGES
from aftercare.projects.models import (
    Criterion,
    Decision,
    PlanTemplate,
    ProjectEvent,
    Side,
    Snag,
    StageKind,
    TemplateStage,
)
from aftercare.projects.services import PlanError
from aftercare.projects.tests.factories import close_through, meet_all, sign_both
from aftercare.tenancy.models import AgentRestriction

pytestmark = pytest.mark.django_db


def stage(project, position):
    return project.stages.get(position=position)


# -- the template and instantiation -------------------------------------------------------


def test_the_data_migration_made_the_eight_stage_template():
    template = PlanTemplate.objects.get(is_default=True)
    stages = list(template.stages.order_by("position"))
    assert [s.title for s in stages] == [s[0] for s in STAGES]
    assert len(stages) == 8
    test_session = stages[5]
    assert test_session.kind == StageKind.TEST_SESSION
    backup = test_session.criteria.get(text=BACKUP_CRITERION)
    assert backup.must_be_first
    assert test_session.criteria.get(text=LOGINS_CRITERION).rule == "logins_tested"
    assert stages[6].kind == StageKind.DECISION


def test_instantiating_copies_stages_tasks_and_criteria_with_due_dates(project, template):
    stages = list(project.stages.order_by("position"))
    assert len(stages) == template.stages.count() == 8
    for copy, original in zip(stages, template.stages.order_by("position"), strict=True):
        assert copy.title == original.title
        assert copy.organisation_id == project.organisation_id
        assert list(copy.tasks.values_list("text", flat=True)) == list(
            original.tasks.values_list("text", flat=True)
        )
        assert [(c.text, c.must_be_first, c.rule) for c in copy.criteria.all()] == [
            (c.text, c.must_be_first, c.rule) for c in original.criteria.all()
        ]
        assert copy.due_on == project.go_live_on - timedelta(days=original.due_offset_days)
    assert not Criterion.objects.filter(stage__project=project, met_at__isnull=False).exists()
    assert ProjectEvent.objects.filter(project=project, action="projects.project.created").exists()


def test_instantiating_twice_is_refused(project, template):
    with pytest.raises(PlanError, match="already has a plan"):
        services.instantiate_plan(template, project)


def test_editing_the_template_later_does_not_change_existing_plans(project, template, manager):
    first = template.stages.get(position=1)
    services.add_template_task(stage=first, actor=manager, text="Sign the project charter")
    assert not stage(project, 1).tasks.filter(text="Sign the project charter").exists()


def test_only_managers_and_admins_edit_templates(template, consultant, operator, manager):
    first = template.stages.get(position=1)
    for user in (consultant, operator):
        with pytest.raises(PermissionDenied):
            services.add_template_task(stage=first, actor=user, text="x")
    services.add_template_task(stage=first, actor=manager, text="Agree the meeting calendar")


def test_template_items_move_and_at_most_one_criterion_is_first(template, manager):
    test_session = template.stages.get(kind=StageKind.TEST_SESSION)
    with pytest.raises(PlanError, match="at most one"):
        services.add_template_criterion(
            stage=test_session, actor=manager, text="Another first", must_be_first=True
        )
    stages = list(template.stages.order_by("position"))
    services.move_template_item(item=stages[1], actor=manager, direction=-1)
    assert list(template.stages.order_by("position")[:2]) == [stages[1], stages[0]]
    services.move_template_item(item=stages[1], actor=manager, direction=-1)  # top already
    assert template.stages.order_by("position").first() == stages[1]


def test_a_copied_template_has_the_same_stages(template, manager):
    copy = services.create_template(actor=manager, name="Short plan", copy_from=template)
    assert copy.stages.count() == 8
    assert TemplateStage.objects.filter(template=copy, kind=StageKind.DECISION).count() == 1
    with pytest.raises(PlanError, match="exists already"):
        services.create_template(actor=manager, name="Short plan")


# -- who may change a plan ----------------------------------------------------------------


def test_operators_and_developers_cannot_change_plans(project, operator, developer):
    criterion = stage(project, 1).criteria.first()
    for user in (operator, developer):
        with pytest.raises(PermissionDenied):
            services.set_criterion(criterion=criterion, actor=user, met=True)


def test_customers_cannot_change_plans(project, coordinator):
    with pytest.raises(PermissionDenied):
        services.close_stage(stage=stage(project, 1), actor=coordinator)


def test_an_agent_restricted_to_another_organisation_cannot_change_the_plan(
    project, manager, other_org
):
    AgentRestriction.objects.create(user=manager, organisation=other_org)
    with pytest.raises(PermissionDenied):
        services.set_criterion(
            criterion=stage(project, 1).criteria.first(), actor=manager, met=True
        )


def test_a_system_of_another_organisation_is_refused(template, org, other_org, manager):
    from aftercare.tenancy.tests.factories import SystemFactory

    with pytest.raises(PlanError, match="another organisation"):
        services.create_project(
            actor=manager,
            organisation=org,
            name="x",
            go_live_on=date(2030, 1, 1),
            template=template,
            system=SystemFactory(organisation=other_org),
        )


# -- stage gates ----------------------------------------------------------------------------


def test_a_stage_with_open_criteria_cannot_close(project, manager):
    first = stage(project, 1)
    open_text = first.criteria.last().text
    services.set_criterion(criterion=first.criteria.first(), actor=manager, met=True)
    with pytest.raises(PlanError, match="Gate criteria still open") as info:
        services.close_stage(stage=first, actor=manager)
    assert open_text in info.value.message
    first.refresh_from_db()
    assert first.closed_at is None


def test_stages_close_in_order(project, manager):
    second = stage(project, 2)
    meet_all(second, manager)
    with pytest.raises(PlanError, match="must be closed first"):
        services.close_stage(stage=second, actor=manager)
    close_through(project, manager, 1)
    services.close_stage(stage=second, actor=manager)
    second.refresh_from_db()
    assert second.closed_at is not None and second.closed_by == manager
    assert ProjectEvent.objects.filter(project=project, action="projects.stage.closed").count() == 2


def test_a_closed_stage_criteria_are_frozen_and_closing_twice_is_refused(project, manager):
    close_through(project, manager, 1)
    first = stage(project, 1)
    with pytest.raises(PlanError, match="closed"):
        services.set_criterion(criterion=first.criteria.first(), actor=manager, met=False)
    with pytest.raises(PlanError, match="already closed"):
        services.close_stage(stage=first, actor=manager)


def test_reopening_keeps_the_order(project, manager):
    close_through(project, manager, 2)
    with pytest.raises(PlanError, match="reopen it first"):
        services.reopen_stage(stage=stage(project, 1), actor=manager)
    services.reopen_stage(stage=stage(project, 2), actor=manager)
    services.reopen_stage(stage=stage(project, 1), actor=manager)
    assert not project.stages.filter(closed_at__isnull=False).exists()


def test_owners_must_be_staff_and_customer_users(project, manager, owner, outsider, consultant):
    first = stage(project, 1)
    with pytest.raises(PlanError, match="vendor owner"):
        services.update_stage(
            stage=first, actor=manager, vendor_owner=owner, customer_owner=None, due_on=None
        )
    with pytest.raises(PlanError, match="customer owner"):
        services.update_stage(
            stage=first, actor=manager, vendor_owner=None, customer_owner=outsider, due_on=None
        )
    services.update_stage(
        stage=first,
        actor=manager,
        vendor_owner=consultant,
        customer_owner=owner,
        due_on=date(2030, 4, 1),
    )
    first.refresh_from_db()
    assert (first.vendor_owner, first.customer_owner, first.due_on) == (
        consultant,
        owner,
        date(2030, 4, 1),
    )


def test_tasks_are_ticked_and_unticked(project, manager):
    task = stage(project, 1).tasks.first()
    services.set_task_done(task=task, actor=manager, done=True)
    task.refresh_from_db()
    assert task.done_at is not None and task.done_by == manager
    services.set_task_done(task=task, actor=manager, done=False)
    task.refresh_from_db()
    assert task.done_at is None


# -- the test session: backup first, logins computed ----------------------------------------


def test_backup_must_be_met_before_any_other_criterion_of_the_test_session(project, manager):
    session = project.stages.get(kind=StageKind.TEST_SESSION)
    backup = session.criteria.get(must_be_first=True)
    other = session.criteria.get(text="Credentials distributed")
    ana = services.add_participant(project=project, actor=manager, name="Ana", side=Side.CUSTOMER)
    services.mark_participant(participant=ana, actor=manager, what="credentials")
    with pytest.raises(PlanError, match="must be met before") as info:
        services.set_criterion(criterion=other, actor=manager, met=True)
    assert BACKUP_CRITERION in info.value.message
    services.set_criterion(criterion=backup, actor=manager, met=True)
    services.set_criterion(criterion=other, actor=manager, met=True)
    with pytest.raises(PlanError, match="cannot be opened again"):
        services.set_criterion(criterion=backup, actor=manager, met=False)


def test_saving_a_checklist_at_once_puts_the_backup_first(project, manager):
    session = project.stages.get(kind=StageKind.TEST_SESSION)
    ana = services.add_participant(project=project, actor=manager, name="Ana", side=Side.CUSTOMER)
    services.mark_participant(participant=ana, actor=manager, what="credentials")
    ids = session.criteria.exclude(rule="logins_tested").values_list("pk", flat=True)
    assert services.set_criteria(stage=session, actor=manager, met_ids=ids) == 3
    assert session.criteria.filter(met_at__isnull=False).count() == 3


def test_a_checklist_with_a_refused_criterion_saves_nothing(project, manager):
    session = project.stages.get(kind=StageKind.TEST_SESSION)
    without_backup = session.criteria.exclude(must_be_first=True).exclude(rule="logins_tested")
    with pytest.raises(PlanError):
        services.set_criteria(
            stage=session, actor=manager, met_ids=without_backup.values_list("pk", flat=True)
        )
    assert not session.criteria.filter(met_at__isnull=False).exists()


def test_the_generic_first_flag_works_on_any_stage(project, manager):
    first = stage(project, 1)
    a, b = list(first.criteria.all())
    Criterion.objects.filter(pk=b.pk).update(must_be_first=True)
    with pytest.raises(PlanError, match="must be met before"):
        services.set_criterion(criterion=a, actor=manager, met=True)


def test_logins_tested_cannot_be_met_while_a_target_login_is_untested(project, manager):
    session = project.stages.get(kind=StageKind.TEST_SESSION)
    backup = session.criteria.get(must_be_first=True)
    logins = session.criteria.get(rule="logins_tested")
    services.set_criterion(criterion=backup, actor=manager, met=True)
    with pytest.raises(PlanError, match="No target users"):
        services.set_criterion(criterion=logins, actor=manager, met=True)
    ana = services.add_participant(project=project, actor=manager, name="Ana", side=Side.CUSTOMER)
    services.add_participant(
        project=project, actor=manager, name="Observer", side=Side.CUSTOMER, is_target_user=False
    )
    with pytest.raises(PlanError, match="not tested yet: Ana"):
        services.set_criterion(criterion=logins, actor=manager, met=True)
    services.mark_participant(participant=ana, actor=manager, what="credentials")
    services.mark_participant(participant=ana, actor=manager, what="login")
    services.set_criterion(criterion=logins, actor=manager, met=True)
    with pytest.raises(PlanError, match="Open the criterion"):
        services.mark_participant(participant=ana, actor=manager, what="login", done=False)


def test_a_target_user_added_after_the_logins_were_met_blocks_the_close(project, manager):
    close_through(project, manager, 5)
    session = project.stages.get(kind=StageKind.TEST_SESSION)
    services.add_participant(project=project, actor=manager, name="Ana", side=Side.CUSTOMER)
    for what in ("credentials", "login"):
        services.mark_participant(
            participant=project.participants.get(name="Ana"), actor=manager, what=what
        )
    meet_all(session, manager)
    services.add_participant(project=project, actor=manager, name="Late", side=Side.CUSTOMER)
    with pytest.raises(PlanError) as info:
        services.close_stage(stage=session, actor=manager)
    # Every reason at once: neither the credentials nor the login of "Late" are recorded.
    assert "not tested yet: Late" in info.value.message
    assert "not received their credentials yet: Late" in info.value.message


def test_participants_record_credentials_login_and_training(project, manager, owner, consultant):
    p = services.add_participant(
        project=project, actor=manager, name="", user=owner, side=Side.CUSTOMER, role="Key user"
    )
    assert (p.name, p.email) == (owner.display_name, owner.email)
    for what, field in services.PARTICIPANT_MARKS.items():
        services.mark_participant(participant=p, actor=manager, what=what)
        p.refresh_from_db()
        assert getattr(p, field) is not None
    with pytest.raises(PlanError, match="Unknown"):
        services.mark_participant(participant=p, actor=manager, what="coffee")
    with pytest.raises(PlanError, match="not a user of the customer"):
        services.add_participant(
            project=project, actor=manager, name="x", user=consultant, side=Side.CUSTOMER
        )
    with pytest.raises(PlanError, match="member of staff"):
        services.add_participant(
            project=project, actor=manager, name="x", user=owner, side=Side.VENDOR
        )
    with pytest.raises(PlanError, match="needs a name"):
        services.add_participant(project=project, actor=manager, name=" ", side=Side.CUSTOMER)


# -- notice -----------------------------------------------------------------------------------


def test_notice_warns_until_users_are_informed_early_enough(
    project, manager, settings, time_machine
):
    time_machine.move_to("2030-05-30 12:00Z", tick=False)  # the dates below are past
    settings.AFTERCARE_GOLIVE_NOTICE_DAYS = 30
    assert "not been informed" in services.notice_warning(project)
    services.record_users_informed(
        project=project, actor=manager, on=project.go_live_on - timedelta(days=29)
    )
    project.refresh_from_db()
    assert "less than 30 days" in services.notice_warning(project)
    assert services.projects_with_short_notice([project])[0][0] == project
    services.record_users_informed(
        project=project, actor=manager, on=project.go_live_on - timedelta(days=30)
    )
    project.refresh_from_db()
    assert services.notice_warning(project) is None
    settings.AFTERCARE_GOLIVE_NOTICE_DAYS = 45
    assert services.notice_warning(project) is not None


def test_a_postponement_can_make_the_notice_sufficient(project, manager, time_machine):
    time_machine.move_to("2030-05-30 12:00Z", tick=False)
    services.record_users_informed(
        project=project, actor=manager, on=project.go_live_on - timedelta(days=10)
    )
    p = services.add_participant(project=project, actor=manager, name="Ana", side=Side.CUSTOMER)
    services.decide(
        project=project,
        actor=manager,
        outcome=Decision.Outcome.POSTPONE,
        decided_on=date(2030, 5, 25),
        reasons="Users need more notice",
        participants=[p],
        new_go_live_on=project.go_live_on + timedelta(days=30),
    )
    project.refresh_from_db()
    assert services.notice_warning(project) is None


# -- incidents --------------------------------------------------------------------------------


def test_an_incident_opens_a_desk_request_linked_to_the_plan(project, manager, owner):
    incident = services.open_incident(
        project=project,
        actor=manager,
        subject="Login fails for warehouse users",
        description="Seen in the test session.",
        reporter=owner,
    )
    ticket = incident.ticket
    assert ticket.organisation == project.organisation
    assert (ticket.reporter, ticket.created_by, ticket.channel) == (owner, manager, Channel.CONSOLE)
    assert project.incidents.get().ticket == ticket


def test_an_incident_reporter_must_be_a_customer_user(project, manager, outsider):
    with pytest.raises(PlanError, match="reporter"):
        services.open_incident(
            project=project, actor=manager, subject="x", description="y", reporter=outsider
        )
    assert not Ticket.objects.exists()


def test_linking_a_request_of_another_organisation_is_refused(
    project, manager, outsider, owner, other_org, org
):
    theirs = ticket_for(outsider, other_org)
    with pytest.raises(PlanError, match="own organisation"):
        services.link_ticket(project=project, actor=manager, ticket=theirs)
    assert not project.incidents.exists()
    ours = ticket_for(owner, org)
    services.link_ticket(project=project, actor=manager, ticket=ours)
    with pytest.raises(PlanError, match="already linked"):
        services.link_ticket(project=project, actor=manager, ticket=ours)


# -- the decision -------------------------------------------------------------------------------


def _people(project, manager):
    return [
        services.add_participant(project=project, actor=manager, name="Ana", side=Side.CUSTOMER),
        services.add_participant(
            project=project, actor=manager, name="Victor", side=Side.VENDOR, is_target_user=False
        ),
    ]


def test_go_needs_every_stage_before_the_decision_closed(
    project, manager, coordinator, time_machine
):
    people = _people(project, manager)
    close_through(project, manager, 5)
    with pytest.raises(PlanError, match="still open: 6") as info:
        services.decide(
            project=project,
            actor=manager,
            outcome=Decision.Outcome.GO,
            decided_on=date(2030, 5, 28),
            reasons="All tests passed",
            participants=people,
        )
    # Every reason at once: the open stage and both missing signatures of the plan.
    assert "customer side has not signed version 1" in info.value.message.lower()
    assert "vendor side has not signed version 1" in info.value.message.lower()
    close_through(project, manager, 6)
    sign_both(project, manager, coordinator)
    decision = services.decide(
        project=project,
        actor=manager,
        outcome=Decision.Outcome.GO,
        decided_on=date(2030, 5, 28),
        reasons="All tests passed",
        participants=people,
    )
    assert set(decision.participants.all()) == set(people)
    project.refresh_from_db()
    assert project.go_live_on == date(2030, 6, 1)
    sign_both(project, manager, coordinator, kind="decision")
    close_through(project, manager, 7)
    go_live = project.stages.get(kind=StageKind.GO_LIVE)
    meet_all(go_live, manager)
    time_machine.move_to("2030-05-31 20:00Z", tick=False)  # 23:00 in Bucharest, still the 31st
    with pytest.raises(PlanError, match="before the go-live date, 2030-06-01"):
        services.close_stage(stage=go_live, actor=manager)
    time_machine.move_to("2030-06-01 08:00Z", tick=False)
    close_through(project, manager, 8)
    assert not project.stages.filter(closed_at__isnull=True).exists()


def test_the_decision_stage_closes_only_after_a_go(project, manager, coordinator):
    people = _people(project, manager)
    sign_both(project, manager, coordinator)
    close_through(project, manager, 6)
    decision_stage = project.stages.get(kind=StageKind.DECISION)
    meet_all(decision_stage, manager)
    with pytest.raises(PlanError, match="Record a “go” decision"):
        services.close_stage(stage=decision_stage, actor=manager)
    services.decide(
        project=project,
        actor=manager,
        outcome=Decision.Outcome.POSTPONE,
        decided_on=date(2030, 5, 28),
        reasons="Too many incidents",
        participants=people,
        new_go_live_on=date(2030, 7, 1),
    )
    with pytest.raises(PlanError, match="Record a “go” decision"):
        services.close_stage(stage=decision_stage, actor=manager)
    # The postponement moved the dates of a signed plan: version 2, signed again.
    project.refresh_from_db()
    assert project.plan_version == 2
    with pytest.raises(PlanError, match="outdated"):
        services.decide(
            project=project,
            actor=manager,
            outcome=Decision.Outcome.GO,
            decided_on=date(2030, 6, 25),
            reasons="Incidents fixed",
            participants=people,
        )
    sign_both(project, manager, coordinator)
    services.decide(
        project=project,
        actor=manager,
        outcome=Decision.Outcome.GO,
        decided_on=date(2030, 6, 25),
        reasons="Incidents fixed",
        participants=people,
    )
    with pytest.raises(PlanError, match="not co-signed the go/no-go decision"):
        services.close_stage(stage=decision_stage, actor=manager)
    sign_both(project, manager, coordinator, kind="decision")
    services.close_stage(stage=decision_stage, actor=manager)
    with pytest.raises(PlanError, match="already closed"):
        services.decide(
            project=project,
            actor=manager,
            outcome=Decision.Outcome.GO,
            decided_on=date(2030, 6, 25),
            reasons="again",
            participants=people,
        )


def test_postponing_moves_the_go_live_date_and_the_open_due_dates(project, manager):
    people = _people(project, manager)
    close_through(project, manager, 1)
    first_due = stage(project, 1).due_on
    last_due = stage(project, 8).due_on
    decision = services.decide(
        project=project,
        actor=manager,
        outcome=Decision.Outcome.POSTPONE,
        decided_on=date(2030, 5, 28),
        reasons="Performance tests failed",
        participants=people[:1],
        new_go_live_on=date(2030, 6, 15),
    )
    project.refresh_from_db()
    assert project.go_live_on == date(2030, 6, 15)
    assert decision.previous_go_live_on == date(2030, 6, 1)
    assert stage(project, 1).due_on == first_due  # closed stages keep their dates
    assert stage(project, 8).due_on == last_due + timedelta(days=14)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"new_go_live_on": None}, "needs the new go-live date"),
        ({"new_go_live_on": date(2030, 5, 1)}, "after the current one"),
        ({"reasons": " "}, "reasons"),
        ({"participants": []}, "participants"),
        ({"outcome": "maybe"}, "go or postpone"),
    ],
)
def test_a_decision_with_bad_input_is_refused(project, manager, kwargs, message):
    people = _people(project, manager)
    args = {
        "project": project,
        "actor": manager,
        "outcome": Decision.Outcome.POSTPONE,
        "decided_on": date(2030, 5, 28),
        "reasons": "x",
        "participants": people,
        "new_go_live_on": date(2030, 7, 1),
        **kwargs,
    }
    with pytest.raises(PlanError, match=message):
        services.decide(**args)
    assert not project.decisions.exists()


def test_participants_of_another_project_cannot_take_part(project, other_project, manager):
    stranger = services.add_participant(
        project=other_project, actor=manager, name="Boris", side=Side.CUSTOMER
    )
    with pytest.raises(PlanError, match="project's participants"):
        services.decide(
            project=project,
            actor=manager,
            outcome=Decision.Outcome.POSTPONE,
            decided_on=date(2030, 5, 28),
            reasons="x",
            participants=[stranger],
            new_go_live_on=date(2030, 7, 1),
        )


# -- snags and closing ------------------------------------------------------------------------


def test_the_project_cannot_close_while_snags_are_open(project, manager, owner, coordinator):
    a = services.add_snag(project=project, actor=manager, text="Fix invoice layout", owner=owner)
    b = services.add_snag(project=project, actor=manager, text="Train the night shift")
    services.set_snag_status(snag=b, actor=manager, status=Snag.Status.IN_PROGRESS)
    with pytest.raises(PlanError, match="2 action point") as info:
        services.close_project(project=project, actor=manager)
    assert "Fix invoice layout" in info.value.message
    services.set_snag_status(snag=a, actor=manager, status=Snag.Status.DONE)
    with pytest.raises(PlanError, match="Say why"):
        services.set_snag_status(snag=b, actor=manager, status=Snag.Status.DROPPED)
    services.set_snag_status(
        snag=b, actor=manager, status=Snag.Status.DROPPED, reason="Night shift cancelled"
    )
    with pytest.raises(PlanError, match="not confirmed 1 fixed action point"):
        services.close_project(project=project, actor=manager)
    services.sign_off(project=project, actor=coordinator, kind="snag", snag=a)
    services.close_project(project=project, actor=manager)
    project.refresh_from_db()
    assert project.status == project.Status.CLOSED and project.closed_at is not None
    with pytest.raises(PlanError, match="closed"):
        services.add_snag(project=project, actor=manager, text="late")
    with pytest.raises(PlanError, match="closed"):
        services.set_criterion(
            criterion=stage(project, 1).criteria.first(), actor=manager, met=True
        )


def test_a_snag_owner_must_be_staff_or_a_customer_user(project, manager, outsider, consultant):
    with pytest.raises(PlanError, match="owner"):
        services.add_snag(project=project, actor=manager, text="x", owner=outsider)
    assert services.add_snag(project=project, actor=manager, text="x", owner=consultant)


def test_a_snag_becomes_a_desk_request_once(project, manager, owner, coordinator):
    snag = services.add_snag(
        project=project, actor=manager, text="Add the VAT column to the invoice", owner=owner
    )
    ticket = services.snag_to_ticket(snag=snag, actor=manager)
    snag.refresh_from_db()
    assert snag.ticket == ticket
    assert (ticket.organisation, ticket.reporter) == (project.organisation, owner)
    assert ticket.subject == "Add the VAT column to the invoice"
    with pytest.raises(PlanError, match="already has a request"):
        services.snag_to_ticket(snag=snag, actor=manager)
    staff_owned = services.add_snag(project=project, actor=manager, text="Check backups")
    assert services.snag_to_ticket(snag=staff_owned, actor=manager).reporter == coordinator
