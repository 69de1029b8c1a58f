import pytest

from aftercare.accounts.roles import Role
from aftercare.desk import services, workflow
from aftercare.desk.models import Event, Status

pytestmark = pytest.mark.django_db


def test_every_rule_names_real_statuses_and_roles():
    roles = set(Role.values) | {workflow.SYSTEM}
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


def _to_released(ticket, consultant):
    for target in (Status.SPRINT, Status.IN_PROGRESS, Status.DONE, Status.RELEASED):
        services.transition(ticket=ticket, actor=consultant, target=target)
    ticket.refresh_from_db()
    return ticket


def test_customer_accepts_a_released_request(ticket, consultant, owner):
    _to_released(ticket, consultant)
    services.transition(ticket=ticket, actor=owner, target=Status.ARCHIVED)
    ticket.refresh_from_db()
    assert ticket.status == Status.ARCHIVED


def test_customer_reopens_with_a_reason_only(ticket, consultant, owner):
    _to_released(ticket, consultant)
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
    _to_released(ticket, consultant)
    with pytest.raises(Exception):  # noqa: B017 - PermissionDenied
        services.transition(ticket=ticket, actor=teammate, target=Status.ARCHIVED)


def test_coordinator_may_accept_any_request_of_the_organisation(ticket, consultant, coordinator):
    _to_released(ticket, consultant)
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
