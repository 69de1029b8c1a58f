"""The request page: one composer, one properties form, the live refresh, canned answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from aftercare.accounts.roles import Role
from aftercare.desk import approvals, services
from aftercare.desk.models import (
    Attachment,
    CannedAnswer,
    Category,
    Event,
    Level,
    Message,
    Priority,
    Status,
    Ticket,
)
from aftercare.desk.tests.factories import PNG, ticket_for
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import UserFactory, staff

pytestmark = pytest.mark.django_db


def _url(ticket: Ticket) -> str:
    return reverse("console:ticket", args=[ticket.number])


def _changes(ticket: Ticket) -> str:
    return reverse("console:ticket-changes", args=[ticket.number])


def _canned(ticket: Ticket) -> str:
    return reverse("console:ticket-canned", args=[ticket.number])


def _fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def _props(ticket: Ticket, **changes) -> dict:
    """The properties form as the page posts it, with ``changes`` applied."""
    ticket = _fresh(ticket)
    data = {
        "action": "properties",
        "status": ticket.status,
        "priority": ticket.priority,
        "category": ticket.category,
        "system": ticket.system_id or "",
        "assignee": ticket.assignee_id or "",
        "level": ticket.level,
        "tags": ", ".join(t.name for t in ticket.tags.all()),
        "version": ticket.version,
    }
    data.update(changes)
    return data


@pytest.fixture
def beta_consultant(other_org):
    user = staff(Role.CONSULTANT, username="bea")
    AgentRestriction.objects.create(user=user, organisation=other_org)
    return user


# -- the composer ---------------------------------------------------------------------


def test_it_sends_a_reply_and_waits_for_the_customer_in_one_submit(ticket, operator, client_for):
    response = client_for(operator).post(
        _url(ticket),
        {
            "action": "compose",
            "mode": "reply",
            "body": "Please send the log file.",
            "then": Status.WAITING,
            "version": ticket.version,
        },
    )
    assert response.status_code == 302
    message = Message.objects.get(ticket=ticket, body="Please send the log file.")
    assert message.kind == Message.Kind.PUBLIC
    assert _fresh(ticket).status == Status.WAITING
    actions = list(Event.objects.filter(ticket=ticket).values_list("action", flat=True))
    assert actions[-2:] == ["desk.reply.added", "desk.ticket.status_changed"]


def test_the_reason_for_a_move_is_not_the_message(ticket, operator, client_for):
    client = client_for(operator)
    data = {"action": "compose", "mode": "reply", "body": "Duplicate.", "then": Status.REJECTED}
    response = client.post(_url(ticket), data)
    assert response.status_code == 400
    assert response.context["composer"].errors["reason"]
    assert not Message.objects.filter(body="Duplicate.").exists()
    response = client.post(_url(ticket), {**data, "reason": "Same as AC-1"})
    assert response.status_code == 302
    ticket = _fresh(ticket)
    assert ticket.status == Status.REJECTED and ticket.rejection_reason == "Same as AC-1"


def test_a_refused_move_leaves_no_reply_and_no_file_behind(ticket, operator, client_for, settings):
    from pathlib import Path

    approvals.request(
        ticket=ticket, actor=operator, action="Fix the data", target_status=Status.SPRINT
    )
    before = Message.objects.filter(ticket=ticket).count()
    response = client_for(operator).post(
        _url(ticket),
        {
            "action": "compose",
            "mode": "reply",
            "body": "Planned for this sprint.",
            "then": Status.SPRINT,
            "files": SimpleUploadedFile("shot.png", PNG, content_type="image/png"),
            "version": _fresh(ticket).version,
        },
    )
    assert response.status_code == 400
    assert Message.objects.filter(ticket=ticket).count() == before
    assert not Attachment.objects.filter(name="shot.png").exists()
    assert _fresh(ticket).status == Status.BACKLOG
    stored = [p for p in Path(settings.MEDIA_ROOT).rglob("*.png")]
    assert stored == []  # the file written before the refusal was removed again
    assert "Nothing was sent" in response.content.decode()


def test_a_stale_move_is_refused_with_its_reply(ticket, operator, client_for):
    version = ticket.version
    services.reprioritise(ticket=ticket, actor=operator, priority=Priority.HIGH, reason="Shop")
    response = client_for(operator).post(
        _url(ticket),
        {"action": "compose", "mode": "reply", "body": "Hi", "then": "sprint", "version": version},
    )
    assert response.status_code == 400
    assert "changed by someone else" in response.content.decode()
    assert not Message.objects.filter(ticket=ticket, body="Hi").exists()


def test_a_note_stays_with_staff_and_a_reply_reaches_the_customer(
    ticket, operator, owner, client_for
):
    client = client_for(operator)
    client.post(_url(ticket), {"action": "compose", "mode": "note", "body": "Licence expired."})
    client.post(_url(ticket), {"action": "compose", "mode": "reply", "body": "Fixed now."})
    note = Message.objects.get(body="Licence expired.")
    assert note.kind == Message.Kind.INTERNAL
    portal = client_for(owner).get(reverse("portal:detail", args=[ticket.number]))
    assert b"Fixed now." in portal.content
    assert b"Licence expired." not in portal.content
    page = client.get(_url(ticket)).content.decode()
    assert "Licence expired." in page and "Only staff see this." in page
    assert "The customer will receive this by e-mail." in page


def test_the_page_offers_the_allowed_moves_on_the_send_button(ticket, operator, client_for):
    body = client_for(operator).get(_url(ticket)).content.decode()
    assert "Send and wait for the customer" in body
    assert 'value="rejected"' in body and 'data-needs-reason="1"' in body


def test_the_description_is_shown_once(ticket, operator, client_for):
    body = client_for(operator).get(_url(ticket)).content.decode()
    assert body.count("Posting fails with an error.") == 1


# -- canned answers -------------------------------------------------------------------


@pytest.fixture
def answer(db):
    return CannedAnswer.objects.create(
        title="Greeting",
        body=(
            "Hello {{reporter.first_name}}, about {{ ticket.number }} for {{customer.name}}."
            " {{agent.name}} {{ticket.reporter.password}} {% now 'Y' %}"
        ),
    )


def test_it_fills_a_canned_answer_without_the_template_engine(
    ticket, operator, owner, answer, client_for
):
    owner.first_name = "<b>Ann</b>"
    owner.save()
    data = client_for(operator).get(_canned(ticket), {"answer": answer.pk}).json()
    text = data["text"]
    assert text.startswith(f"Hello <b>Ann</b>, about {ticket.number} for Alpha Foods.")
    assert operator.display_name in text
    # Anything but the offered names stays as typed: no attribute walk, no tags.
    assert "{{ticket.reporter.password}} {% now 'Y' %}" in text
    page = client_for(operator).get(_url(ticket)).content.decode()
    assert 'id="canned-picker"' in page and "Greeting" in page


def test_a_canned_answer_is_not_filled_for_a_request_out_of_reach(
    ticket, operator, outsider, answer, other_org, client_for
):
    AgentRestriction.objects.create(user=operator, organisation=other_org)
    assert client_for(operator).get(_canned(ticket), {"answer": answer.pk}).status_code == 404
    assert client_for(outsider).get(_canned(ticket), {"answer": answer.pk}).status_code == 403


def test_a_personal_canned_answer_is_offered_only_to_its_owner(
    ticket, operator, consultant, client_for
):
    mine = CannedAnswer.objects.create(title="Mine", body="x", shared=False, owner=consultant)
    assert client_for(operator).get(_canned(ticket), {"answer": mine.pk}).status_code == 404
    assert client_for(consultant).get(_canned(ticket), {"answer": mine.pk}).status_code == 200
    assert b"Mine" not in client_for(operator).get(_url(ticket)).content


# -- the properties form --------------------------------------------------------------


def test_one_save_applies_several_properties(ticket, operator, consultant, client_for):
    response = client_for(operator).post(
        _url(ticket),
        _props(
            ticket,
            status=Status.SPRINT,
            priority=Priority.HIGH,
            priority_reason="Month-end closing",
            category=Category.PROBLEM,
            assignee=consultant.pk,
            level=Level.L2,
            tags="Month-end, invoices",
        ),
    )
    assert response.status_code == 302, response.context and response.context["properties"].errors
    ticket = _fresh(ticket)
    assert ticket.status == Status.SPRINT and ticket.priority == Priority.HIGH
    assert ticket.category == Category.PROBLEM and ticket.assignee == consultant
    assert ticket.level == Level.L2
    assert sorted(t.name for t in ticket.tags.all()) == ["invoices", "month-end"]
    actions = set(Event.objects.filter(ticket=ticket).values_list("action", "field"))
    assert {
        ("desk.ticket.status_changed", "status"),
        ("desk.ticket.reprioritised", "priority"),
        ("desk.ticket.updated", "category"),
        ("desk.ticket.assigned", "assignee"),
        ("desk.ticket.escalated", "level"),
        ("desk.ticket.updated", "tags"),
    } <= actions


def test_an_unchanged_save_writes_nothing(ticket, operator, client_for):
    events = Event.objects.filter(ticket=ticket).count()
    response = client_for(operator).post(_url(ticket), _props(ticket))
    assert response.status_code == 302
    assert Event.objects.filter(ticket=ticket).count() == events


def test_a_refused_property_applies_nothing(ticket, operator, beta_consultant, client_for):
    events = Event.objects.filter(ticket=ticket).count()
    response = client_for(operator).post(
        _url(ticket),
        _props(
            ticket,
            priority=Priority.CRITICAL,
            priority_reason="Shop closed",
            category=Category.PROBLEM,
            assignee=beta_consultant.pk,
        ),
    )
    assert response.status_code == 400
    errors = response.context["properties"].errors
    assert "assignee" in errors or "__all__" in errors
    ticket = _fresh(ticket)
    assert ticket.priority == Priority.NORMAL and ticket.category == Category.INCIDENT
    assert Event.objects.filter(ticket=ticket).count() == events


def test_every_refusal_is_shown_beside_its_field(ticket, operator, client_for):
    approvals.request(ticket=ticket, actor=operator, action="Fix", target_status=Status.SPRINT)
    events = Event.objects.filter(ticket=ticket).count()
    response = client_for(operator).post(
        _url(ticket),
        _props(
            ticket,
            status=Status.SPRINT,
            category=Category.PROBLEM,
            tags="fine, " + "x" * 60,
        ),
    )
    assert response.status_code == 400
    errors = response.context["properties"].errors
    assert "approval" in " ".join(errors["status"])
    assert "at most 50 characters" in " ".join(errors["tags"])
    ticket = _fresh(ticket)
    assert ticket.status == Status.BACKLOG and ticket.category == Category.INCIDENT
    assert not ticket.tags.exists()
    assert Event.objects.filter(ticket=ticket).count() == events


def test_a_priority_change_needs_a_reason(ticket, operator, client_for):
    response = client_for(operator).post(_url(ticket), _props(ticket, priority=Priority.LOW))
    assert response.status_code == 400
    assert response.context["properties"].errors["priority_reason"]
    assert _fresh(ticket).priority == Priority.NORMAL


def test_a_stale_properties_save_is_refused(ticket, operator, client_for):
    data = _props(ticket, category=Category.PROBLEM)
    services.reprioritise(ticket=ticket, actor=operator, priority=Priority.HIGH, reason="Shop")
    response = client_for(operator).post(_url(ticket), data)
    assert response.status_code == 400
    assert "changed by someone else" in response.content.decode()
    assert _fresh(ticket).category == Category.INCIDENT


@pytest.mark.parametrize(
    ("role", "editable"),
    [
        ("operator", {"status", "priority", "category", "system", "tags", "assignee", "level"}),
        ("consultant", {"status", "priority", "category", "system", "tags", "assignee"}),
        ("developer", {"status", "assignee"}),
        ("manager", {"status", "priority", "category", "system", "tags", "assignee", "level"}),
    ],
)
def test_fields_a_role_may_not_change_are_read_only(ticket, client_for, request, role, editable):
    user = request.getfixturevalue(role)
    form = client_for(user).get(_url(ticket)).context["properties"]
    assert {name for name, may in form.editable.items() if may} == editable
    assert all(form.fields[name].disabled for name in set(form.editable) - editable)


def test_a_developer_cannot_post_a_read_only_field(ticket, developer, client_for):
    response = client_for(developer).post(
        _url(ticket),
        _props(ticket, priority=Priority.CRITICAL, priority_reason="x", category="problem"),
    )
    assert response.status_code == 302
    ticket = _fresh(ticket)
    assert ticket.priority == Priority.NORMAL and ticket.category == Category.INCIDENT


def test_the_old_separate_actions_still_work(ticket, operator, client_for):
    client = client_for(operator)
    client.post(_url(ticket), {"action": "priority", "priority": 2, "reason": "Shop"})
    client.post(_url(ticket), {"action": "transition", "target": "sprint"})
    ticket = _fresh(ticket)
    assert ticket.priority == Priority.HIGH and ticket.status == Status.SPRINT


# -- acknowledgement and approvals ----------------------------------------------------


def test_acknowledge_is_offered_only_until_acknowledged(ticket, operator, client_for):
    client = client_for(operator)
    assert client.get(_url(ticket)).context["can_acknowledge"] is True
    client.post(_url(ticket), {"action": "acknowledge"})
    response = client.get(_url(ticket))
    assert response.context["can_acknowledge"] is False
    assert b'id="acknowledge-form"' not in response.content


def test_acknowledge_is_not_offered_after_a_public_reply(ticket, operator, client_for):
    client = client_for(operator)
    client.post(_url(ticket), {"action": "compose", "mode": "note", "body": "Looking"})
    assert client.get(_url(ticket)).context["can_acknowledge"] is True
    client.post(_url(ticket), {"action": "compose", "mode": "reply", "body": "On it."})
    assert client.get(_url(ticket)).context["can_acknowledge"] is False


def test_the_approval_panel_shows_only_when_it_applies(ticket, operator, client_for):
    client = client_for(operator)
    services.transition(ticket=ticket, actor=operator, target=Status.REJECTED, reason="dup")
    assert b'id="approvals"' not in client.get(_url(ticket)).content  # closed, none asked
    other = ticket_for(ticket.reporter, ticket.organisation)
    approvals.request(ticket=other, actor=operator, action="Fix the data")
    body = client.get(_url(other)).content.decode()
    assert 'id="approvals"' in body and "Fix the data" in body


# -- the live refresh -----------------------------------------------------------------


def test_the_changes_endpoint_reports_new_entries(ticket, operator, consultant, client_for):
    client = client_for(operator)
    version = _fresh(ticket).version
    assert client.get(_changes(ticket), {"since": version}).json() == {
        "version": version,
        "changed": False,
    }
    consultant.first_name, consultant.last_name = "Olga", "Petrenko"
    consultant.save()
    services.reply(ticket=ticket, actor=consultant, body="Found the cause.", internal=False)
    data = client.get(_changes(ticket), {"since": version}).json()
    assert data["changed"] is True and data["version"] > version
    assert "Found the cause." in data["html"]
    assert data["news"].startswith("Olga Petrenko replied just now")
    with time_machine.travel(timezone.now() + timedelta(seconds=75)):
        later = client.get(_changes(ticket), {"since": version}).json()
    assert later["news"].startswith("Olga Petrenko replied 1\xa0minute ago")


def test_the_changes_endpoint_hides_notes_from_staff_without_the_permission(
    ticket, operator, client_for
):
    services.reply(ticket=ticket, actor=operator, body="Secret diagnosis", internal=True)
    reader = UserFactory(username="reader")
    reader.user_permissions.add(
        Permission.objects.get(codename="view_all_tickets", content_type__app_label="desk")
    )
    data = client_for(reader).get(_changes(ticket), {"since": 0}).json()
    assert data["changed"] is True
    assert "Secret diagnosis" not in data["html"]
    assert "Secret diagnosis" in client_for(operator).get(_changes(ticket)).json()["html"]


def test_the_changes_endpoint_is_for_staff_who_see_the_request(
    ticket, operator, owner, other_org, client_for
):
    assert client_for(owner).get(_changes(ticket)).status_code == 403
    AgentRestriction.objects.create(user=operator, organisation=other_org)
    assert client_for(operator).get(_changes(ticket)).status_code == 404
    assert client_for(operator).get(_url(ticket)).status_code == 404
