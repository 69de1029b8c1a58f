import pytest

from aftercare.accounts.roles import Role
from aftercare.desk import services, workflow
from aftercare.desk.models import Event, Status
from aftercare.desk.tests.factories import to_released

pytestmark = pytest.mark.django_db


def test_every_rule_names_real_statuses_and_roles():
    roles = set(Role.values) | {workflow.SYSTEM, workflow.WORKER}
    for rule in workflow.RULES:
        assert rule.source in Status.values and rule.target in Status.values
        assert rule.roles and rule.roles <= roles


def test_archived_is_terminal():
    assert not [r for r in workflow.RULES if r.source == Status.ARCHIVED]


def test_it_refuses_a_move_the_table_does_not_have(ticket, consultant):
    with pytest.raises(workflow.TransitionError) as exc:
        services.transition(ticket=ticket, actor=consultant, target=Status.RELEASED)
    assert "cannot move" in str(exc.value)
    ticket.refresh_from_db()
    assert ticket.status == Status.BACKLOG


def test_it_refuses_a_role_the_rule_does_not_name(ticket, owner):
    with pytest.raises(workflow.TransitionError) as exc:
        services.transition(ticket=ticket, actor=owner, target=Status.SPRINT)
    assert "may not" in str(exc.value)


def test_rejection_needs_a_reason(ticket, operator):
    with pytest.raises(workflow.TransitionError):
        services.transition(ticket=ticket, actor=operator, target=Status.REJECTED, reason="  ")
    services.transition(
        ticket=ticket, actor=operator, target=Status.REJECTED, reason="Duplicate of AC-1"
    )
    ticket.refresh_from_db()
    assert ticket.status == Status.REJECTED
    assert ticket.rejection_reason == "Duplicate of AC-1"
    assert ticket.closed_at is not None


def test_customer_accepts_a_released_request(ticket, consultant, owner):
    to_released(ticket, consultant)
    services.transition(ticket=ticket, actor=owner, target=Status.ARCHIVED)
    ticket.refresh_from_db()
    assert ticket.status == Status.ARCHIVED


def test_customer_reopens_with_a_reason_only(ticket, consultant, owner):
    to_released(ticket, consultant)
    with pytest.raises(workflow.TransitionError):
        services.transition(ticket=ticket, actor=owner, target=Status.IN_PROGRESS)
    services.transition(
        ticket=ticket, actor=owner, target=Status.IN_PROGRESS, reason="Still fails for credit notes"
    )
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.released_at is None
    ev = Event.objects.filter(ticket=ticket, field="status").last()
    assert (ev.old, ev.new, ev.note) == ("released", "in_progress", "Still fails for credit notes")


def test_a_teammate_cannot_accept_someone_elses_request(ticket, consultant, teammate):
    to_released(ticket, consultant)
    with pytest.raises(Exception):  # noqa: B017 - PermissionDenied
        services.transition(ticket=ticket, actor=teammate, target=Status.ARCHIVED)


def test_coordinator_may_accept_any_request_of_the_organisation(ticket, consultant, coordinator):
    to_released(ticket, consultant)
    services.transition(ticket=ticket, actor=coordinator, target=Status.ARCHIVED)
    ticket.refresh_from_db()
    assert ticket.status == Status.ARCHIVED


def test_customer_reply_resumes_a_waiting_request(ticket, consultant, owner):
    services.transition(ticket=ticket, actor=consultant, target=Status.IN_PROGRESS)
    services.transition(ticket=ticket, actor=consultant, target=Status.WAITING)
    services.reply(ticket=ticket, actor=owner, body="Here is the screenshot.")
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    ev = Event.objects.filter(ticket=ticket, field="status").last()
    assert ev.actor is None and ev.new == "in_progress"


def test_allowed_transitions_for_a_customer_on_released():
    rules = workflow.allowed_transitions(Status.RELEASED, frozenset({Role.CUSTOMER}))
    assert {r.target for r in rules} == {Status.ARCHIVED, Status.IN_PROGRESS, Status.SPRINT}


def test_stale_version_is_a_conflict_not_an_overwrite(ticket, consultant, operator):
    version = ticket.version
    services.transition(
        ticket=ticket, actor=operator, target=Status.SPRINT, expected_version=version
    )
    with pytest.raises(services.ConflictError):
        services.transition(
            ticket=ticket, actor=consultant, target=Status.IN_PROGRESS, expected_version=version
        )


# L1 closes what L1 solved: Done and Released by whoever did the work.


def _consultation(owner, org, operator):
    from aftercare.desk.models import Category
    from aftercare.desk.tests.factories import ticket_for

    return ticket_for(
        owner,
        org,
        actor=operator,
        subject="How do I reprint a delivery note?",
        category=Category.CONSULTATION,
        channel="phone",
    )


def test_operator_closes_a_request_assigned_to_them(owner, org, operator):
    ticket = _consultation(owner, org, operator)
    services.assign(ticket=ticket, actor=operator, assignee=operator)
    for target in (Status.IN_PROGRESS, Status.DONE, Status.RELEASED):
        services.transition(ticket=ticket, actor=operator, target=target)
    ticket.refresh_from_db()
    assert ticket.status == Status.RELEASED
    assert ticket.resolved_at is not None and ticket.released_at is not None
    moves = list(Event.objects.filter(ticket=ticket, field="status").values_list("actor_id", "new"))
    assert (operator.pk, Status.RELEASED) in moves


def test_an_operator_who_answered_alone_closes_an_unassigned_request(owner, org, operator):
    ticket = _consultation(owner, org, operator)
    services.reply(ticket=ticket, actor=operator, body="Print it from Sales > Delivery notes.")
    services.transition(ticket=ticket, actor=operator, target=Status.IN_PROGRESS)
    services.transition(ticket=ticket, actor=operator, target=Status.DONE)
    services.transition(ticket=ticket, actor=operator, target=Status.RELEASED)
    ticket.refresh_from_db()
    assert ticket.status == Status.RELEASED


def test_operator_cannot_close_what_a_consultant_is_working_on(owner, org, operator, consultant):
    ticket = _consultation(owner, org, operator)
    services.reply(ticket=ticket, actor=operator, body="Passing this to a consultant.")
    services.assign(ticket=ticket, actor=consultant, assignee=consultant)
    services.transition(ticket=ticket, actor=consultant, target=Status.IN_PROGRESS)
    with pytest.raises(workflow.TransitionError) as exc:
        services.transition(ticket=ticket, actor=operator, target=Status.DONE)
    assert "may not" in str(exc.value)
    services.transition(ticket=ticket, actor=consultant, target=Status.DONE)
    with pytest.raises(workflow.TransitionError):
        services.transition(ticket=ticket, actor=operator, target=Status.RELEASED)
    ticket.refresh_from_db()
    assert ticket.status == Status.DONE


def test_operator_is_no_worker_when_a_consultant_answered_too(owner, org, operator, consultant):
    ticket = _consultation(owner, org, operator)
    services.reply(ticket=ticket, actor=operator, body="Looking into it.")
    services.reply(ticket=ticket, actor=consultant, body="Here is the real answer.")
    with pytest.raises(workflow.TransitionError):
        services.transition(ticket=ticket, actor=operator, target=Status.IN_PROGRESS)
    from aftercare.accounts.roles import PermSet

    assert workflow.WORKER not in PermSet(operator).ticket_roles(ticket)
    assert workflow.WORKER not in PermSet(consultant).ticket_roles(ticket)


def test_an_unassigned_operator_with_no_reply_gets_no_done_button(owner, org, operator):
    from aftercare.accounts.roles import PermSet

    ticket = _consultation(owner, org, operator)
    roles = PermSet(operator).ticket_roles(ticket)
    assert workflow.WORKER not in roles
    assert Status.IN_PROGRESS not in {
        r.target for r in workflow.allowed_transitions(ticket.status, roles)
    }


def test_worker_role_never_crosses_organisations(owner, org, other_org, operator, outsider):
    """A restricted operator left assigned to another organisation's request, and a
    customer of another organisation, may not move it at all."""
    from django.core.exceptions import PermissionDenied

    from aftercare.desk.models import Ticket
    from aftercare.tenancy.models import AgentRestriction

    ticket = _consultation(owner, org, operator)
    services.assign(ticket=ticket, actor=operator, assignee=operator)
    services.transition(ticket=ticket, actor=operator, target=Status.IN_PROGRESS)
    AgentRestriction.objects.create(user=operator, organisation=other_org)
    for actor in (operator, outsider):
        with pytest.raises(PermissionDenied):
            services.transition(ticket=ticket, actor=actor, target=Status.DONE)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.IN_PROGRESS


def test_request_page_offers_done_to_the_working_operator_only(owner, org, operator, client_for):
    from django.urls import reverse

    from aftercare.tenancy.tests.factories import staff

    ticket = _consultation(owner, org, operator)
    services.assign(ticket=ticket, actor=operator, assignee=operator)
    services.transition(ticket=ticket, actor=operator, target=Status.IN_PROGRESS)
    url = reverse("console:ticket", args=[ticket.number])
    other_operator = staff(Role.OPERATOR, username="operator2")
    done = "→ Done</option>"
    assert done in client_for(operator).get(url).content.decode()
    assert done not in client_for(other_operator).get(url).content.decode()
