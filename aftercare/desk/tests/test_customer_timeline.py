"""The customer's timeline shows messages and status changes, never the back office."""

from __future__ import annotations

import pytest

from aftercare.accounts.roles import PermSet, Role
from aftercare.desk import services
from aftercare.desk.models import Category, Priority, Status
from aftercare.desk.timeline import build_timeline
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db

DIAGNOSIS = "Root cause: the vendor's posting job leaks locks (internal diagnosis)"
PRIORITY_WHY = "Internal: the account manager asked us to push this one"
REJECTION = "This is covered by the separate reporting contract."


@pytest.fixture
def worked_ticket(ticket, operator, consultant):
    """A request that went through the back office: every kind of internal event."""
    services.acknowledge(ticket=ticket, actor=operator)
    services.assign(ticket=ticket, actor=operator, assignee=consultant)
    services.escalate(ticket=ticket, actor=operator, note=DIAGNOSIS)
    services.reprioritise(
        ticket=ticket, actor=operator, priority=Priority.HIGH, reason=PRIORITY_WHY
    )
    services.classify(
        ticket=ticket,
        actor=operator,
        category=Category.PROBLEM,
        subject="Posting job leaks locks (rewritten by L1)",
    )
    services.reply(ticket=ticket, actor=consultant, body="We are looking into it.")
    services.reply(ticket=ticket, actor=consultant, body="Locks again", internal=True)
    services.transition(ticket=ticket, actor=operator, target=Status.REJECTED, reason=REJECTION)
    ticket.refresh_from_db()
    return ticket


def _text(entries) -> str:
    parts = []
    for e in entries:
        parts += [e.text, e.old, e.new, e.note, getattr(e.obj, "body", "")]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("who", ["owner", "coordinator"])
def test_customer_sees_messages_and_status_changes_only(request, worked_ticket, who):
    if who == "coordinator":
        from aftercare.tenancy.tests.factories import customer

        user = customer(worked_ticket.organisation, role=Role.COORDINATOR, username="coord")
    else:
        user = request.getfixturevalue("owner")
    entries = build_timeline(PermSet(user), worked_ticket)
    actions = {e.obj.action for e in entries if e.kind == "event"}
    assert actions == {"desk.ticket.created", "desk.ticket.status_changed"}
    text = _text(entries)
    for secret in (DIAGNOSIS, PRIORITY_WHY, "rewritten by L1", "Locks again"):
        assert secret not in text
    # The rejection reason is meant for the customer (the form says so; the mail carries it).
    assert REJECTION in text
    assert "We are looking into it." in text


def test_staff_still_see_the_whole_trail(worked_ticket, manager):
    entries = build_timeline(PermSet(manager), worked_ticket)
    actions = {e.obj.action for e in entries if e.kind == "event"}
    assert {
        "desk.ticket.acknowledged",
        "desk.ticket.assigned",
        "desk.ticket.escalated",
        "desk.ticket.reprioritised",
        "desk.ticket.updated",
        "desk.ticket.status_changed",
    } <= actions
    text = _text(entries)
    assert DIAGNOSIS in text and PRIORITY_WHY in text and "Locks again" in text


def test_portal_page_hides_the_back_office(worked_ticket, owner, client_for):
    from django.urls import reverse

    page = client_for(owner).get(reverse("portal:detail", args=[worked_ticket.number]))
    assert page.status_code == 200
    html = page.content.decode()
    # (The priority's reason is shown in the header on purpose: the priority form tells
    # the operator that the customer reads it.)
    # (The current subject is the request's title; the rewrite itself is not an entry.)
    for secret in (DIAGNOSIS, "Locks again", "escalated to L2", "updated the request"):
        assert secret not in html
    assert REJECTION in html


def test_staff_transition_form_says_the_reason_goes_to_the_customer(ticket, operator):
    from aftercare.desk import workflow
    from aftercare.desk.forms import TransitionForm

    rules = workflow.allowed_transitions(ticket.status, PermSet(operator).ticket_roles(ticket))
    form = TransitionForm(rules=rules, staff=True)
    assert "customer" in str(form.fields["reason"].help_text)


def test_restricted_agent_has_no_role_on_another_organisations_request(ticket, other_org):
    from aftercare.tenancy.models import AgentRestriction

    agent = staff(Role.MANAGER, username="restricted-manager")
    AgentRestriction.objects.create(user=agent, organisation=other_org)
    permset = PermSet(agent)
    assert permset.ticket_roles(ticket) == frozenset()
    assert not permset.may_view_ticket(ticket)
    assert not permset.sees_organisation(ticket.organisation_id)
    assert permset.sees_organisation(other_org.pk)
    unrestricted = PermSet(staff(Role.MANAGER, username="free-manager"))
    assert Role.MANAGER in unrestricted.ticket_roles(ticket)
    assert unrestricted.may_view_ticket(ticket)


def test_restricted_agent_cannot_reply_or_move_another_organisations_request(ticket, other_org):
    from django.core.exceptions import PermissionDenied

    from aftercare.desk.models import Message
    from aftercare.tenancy.models import AgentRestriction

    agent = staff(Role.CONSULTANT, username="restricted-consultant")
    AgentRestriction.objects.create(user=agent, organisation=other_org)
    with pytest.raises(PermissionDenied):
        services.reply(ticket=ticket, actor=agent, body="Crossing the line")
    with pytest.raises(PermissionDenied):
        services.transition(ticket=ticket, actor=agent, target=Status.SPRINT)
    assert not Message.objects.filter(body="Crossing the line").exists()
    ticket.refresh_from_db()
    assert ticket.status == Status.BACKLOG
