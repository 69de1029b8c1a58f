"""Bulk changes from the queue: the same services, one request at a time, each reported."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from aftercare.accounts.roles import Role
from aftercare.console.forms import BULK_LIMIT
from aftercare.desk.models import Event, Level, Priority, Status, Tag, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db

URL = "/console/bulk/"


def _set(ticket: Ticket, **fields) -> Ticket:
    Ticket.objects.filter(pk=ticket.pk).update(**fields)
    ticket.refresh_from_db()
    return ticket


def _post(client, tickets, **data):
    data.setdefault("next_url", "/console/?level=1&sort=-created")
    return client.post(
        URL,
        {"tickets": [t if isinstance(t, str) else t.number for t in tickets], **data},
        follow=True,
    )


def _report(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)] or [
        str(m) for m in response.context["messages"]
    ]


@pytest.fixture
def three(owner, org):
    return [ticket_for(owner, org, subject=f"Bulk {i}") for i in range(3)]


def test_it_assigns_many_requests_and_reports_each(client_for, operator, consultant, three):
    response = _post(client_for(operator), three, action="assign", assignee=consultant.pk)
    assert response.redirect_chain[-1][0] == "/console/?level=1&sort=-created"
    report = _report(response)
    assert report[0] == "Changed: 3. Refused: 0. Unchanged: 0."
    for t in three:
        assert f"{t.number}: assigned to {consultant.display_name}" in report
        t.refresh_from_db()
        assert t.assignee == consultant
    assert Event.objects.filter(action="desk.ticket.assigned").count() == 3


def test_it_reports_a_refusal_and_still_makes_the_other_changes(
    client_for, operator, org, other_org, owner, outsider
):
    alpha = ticket_for(owner, org, subject="Alpha")
    beta = ticket_for(outsider, other_org, subject="Beta")
    only_alpha = staff(Role.CONSULTANT, username="alpha-only", first_name="Ana", last_name="Pop")
    AgentRestriction.objects.create(user=only_alpha, organisation=org)
    response = _post(client_for(operator), [alpha, beta], action="assign", assignee=only_alpha.pk)
    report = _report(response)
    assert report[0] == "Changed: 1. Refused: 1. Unchanged: 0."
    assert f"{alpha.number}: assigned to Ana Pop" in report
    refusal = next(line for line in report if line.startswith(beta.number))
    assert refusal.startswith(f"{beta.number}: refused — Ana Pop may not see requests of")
    alpha.refresh_from_db()
    beta.refresh_from_db()
    assert alpha.assignee == only_alpha
    assert beta.assignee is None


def test_it_refuses_a_move_the_workflow_no_longer_allows(client_for, operator, three):
    _set(three[1], status=Status.WAITING)  # someone moved it meanwhile
    response = _post(client_for(operator), three, action="status", target=Status.WAITING)
    report = _report(response)
    assert report[0] == "Changed: 2. Refused: 1. Unchanged: 0."
    assert any(line.startswith(f"{three[1].number}: refused — ") for line in report)
    assert f"{three[0].number}: moved to “Waiting for customer”" in report
    assert {t.status for t in Ticket.objects.all()} == {Status.WAITING}


def test_it_answers_not_found_for_a_request_out_of_a_restricted_agents_reach(
    client_for, operator, org, other_org, owner, outsider
):
    AgentRestriction.objects.create(user=operator, organisation=org)
    alpha = ticket_for(owner, org, subject="Alpha")
    beta = ticket_for(outsider, other_org, subject="Beta secret")
    before = Ticket.objects.get(pk=beta.pk).version
    response = _post(client_for(operator), [alpha, beta], action="level", level=Level.L2)
    report = _report(response)
    assert f"{beta.number}: refused — no such request." in report
    assert "Beta secret" not in response.content.decode()
    assert other_org.name not in response.content.decode()
    beta.refresh_from_db()
    assert (beta.level, beta.version) == (Level.L1, before)
    alpha.refresh_from_db()
    assert alpha.level == Level.L2


def test_it_refuses_a_priority_change_without_a_reason(client_for, operator, three):
    response = _post(client_for(operator), three, action="priority", priority=Priority.HIGH)
    assert any("reason" in line.lower() for line in _report(response))
    assert {t.priority for t in Ticket.objects.all()} == {Priority.NORMAL}


def test_it_changes_the_priority_with_the_reason(client_for, operator, three):
    _post(client_for(operator), three, action="priority", priority=Priority.HIGH, reason="Outage")
    assert {(t.priority, t.priority_reason) for t in Ticket.objects.all()} == {
        (Priority.HIGH, "Outage")
    }


def test_it_refuses_what_the_role_may_not_do(client_for, developer, three):
    response = _post(
        client_for(developer), three, action="priority", priority=Priority.HIGH, reason="x"
    )
    report = _report(response)
    assert report[0] == "Changed: 0. Refused: 3. Unchanged: 0."
    assert f"{three[0].number}: refused — You may not change the priority." in report


def test_it_sets_the_level_both_ways(client_for, operator, three):
    client = client_for(operator)
    _post(client, three[:2], action="level", level=Level.L2)
    assert list(Ticket.objects.order_by("pk").values_list("level", flat=True)) == [2, 2, 1]
    response = _post(client, three, action="level", level=Level.L1, reason="Back to L1")
    report = _report(response)
    assert report[0] == "Changed: 2. Refused: 0. Unchanged: 1."
    assert f"{three[2].number}: unchanged" in report
    assert set(Ticket.objects.values_list("level", flat=True)) == {1}
    assert Event.objects.filter(action="desk.ticket.escalated").count() == 2
    assert Event.objects.filter(field="level", new="1").count() == 2


def test_it_adds_and_removes_tags(client_for, operator, three):
    client = client_for(operator)
    _post(client, three, action="tags_add", tags="Month-end, printing")
    assert {tuple(t.tags.values_list("name", flat=True)) for t in Ticket.objects.all()} == {
        ("month-end", "printing")
    }
    _post(client, three[:1], action="tags_remove", tags="printing")
    assert list(three[0].tags.values_list("name", flat=True)) == ["month-end"]
    assert list(three[1].tags.values_list("name", flat=True)) == ["month-end", "printing"]
    assert Tag.objects.count() == 2


def test_it_limits_the_number_of_requests_in_one_go(client_for, operator, three):
    numbers = [f"ACME-{i:06d}" for i in range(BULK_LIMIT + 1)]
    response = _post(client_for(operator), numbers, action="level", level=Level.L2)
    assert any(str(BULK_LIMIT) in line for line in _report(response))
    assert set(Ticket.objects.values_list("level", flat=True)) == {1}


def test_it_never_returns_off_site(client_for, operator, three, consultant):
    response = client_for(operator).post(
        URL,
        {
            "tickets": [three[0].number],
            "action": "assign",
            "assignee": consultant.pk,
            "next_url": "https://evil.example/",
        },
    )
    assert response["Location"] == reverse("console:queue")


def test_it_takes_posts_from_staff_only(client, client_for, owner, three):
    data = {"tickets": [three[0].number], "action": "level", "level": "2"}
    assert client_for(owner).post(URL, data).status_code == 403
    assert client.post(URL, data).status_code == 302
    assert client_for(owner).get(URL).status_code == 403
    assert Ticket.objects.get(pk=three[0].pk).level == 1


def test_it_offers_the_bulk_bar_and_a_checkbox_per_row(client_for, operator, three):
    body = client_for(operator).get(reverse("console:queue")).content.decode()
    assert 'id="bulk-form"' in body and "data-bulk-bar" in body
    assert body.count('name="tickets"') == 3
    assert "data-keynav" in body
    assert f'data-href="{reverse("console:ticket", args=[three[0].number])}"' in body
