"""Requests over the API: the queue's filters, paging, filing, reading, changing, moving."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aftercare.api.tests.conftest import API, error_of
from aftercare.desk import services
from aftercare.desk.models import Category, Channel, Event, Level, Priority, Status, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.tenancy.models import AgentRestriction

pytestmark = pytest.mark.django_db


def _set(ticket: Ticket, **fields) -> Ticket:
    """Put a request in a given state for a test (set-up only; the API uses services)."""
    Ticket.objects.filter(pk=ticket.pk).update(**fields)
    ticket.refresh_from_db()
    return ticket


def _numbers(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [t["number"] for t in response.json()["items"]]


@pytest.fixture
def agent(api_client, operator):
    return api_client(operator)


@pytest.fixture
def spread(owner, org, other_org, outsider, consultant, operator):
    """Requests that differ in one attribute each, so every filter has one to pick."""
    soon = timezone.now() + timedelta(minutes=30)
    return {
        "base": ticket_for(owner, org, subject="Printing labels is slow"),
        "urgent": _set(
            ticket_for(owner, org, subject="Server room down"), priority=Priority.CRITICAL
        ),
        "question": ticket_for(
            owner, org, subject="How to close the month", category=Category.PROBLEM
        ),
        "l2": _set(ticket_for(owner, org, subject="Stock report totals wrong"), level=Level.L2),
        "mine": _set(ticket_for(owner, org, subject="VAT export rejected"), assignee=operator),
        "theirs": _set(ticket_for(owner, org, subject="Payroll rounding"), assignee=consultant),
        "beta": ticket_for(outsider, other_org, subject="Beta courier import"),
        "waiting": _set(
            ticket_for(owner, org, subject="Need a new user"),
            status=Status.WAITING,
            sla_state="paused",
        ),
        "done": _set(ticket_for(owner, org, subject="Old barcode issue"), status=Status.ARCHIVED),
        "breaching": _set(
            ticket_for(owner, org, subject="Invoices stuck"),
            sla_warn_at=timezone.now() - timedelta(minutes=5),
            sla_due_at=soon,
        ),
    }


# -- the queue ------------------------------------------------------------------------


def test_it_lists_open_requests_by_default(agent, spread):
    numbers = _numbers(agent.get(f"{API}/tickets"))
    assert spread["done"].number not in numbers
    assert len(numbers) == 9


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": Status.WAITING}, ["waiting"]),
        ({"status": Status.ARCHIVED}, ["done"]),
        ({"priority": Priority.CRITICAL}, ["urgent"]),
        ({"category": Category.PROBLEM}, ["question"]),
        ({"level": Level.L2}, ["l2"]),
        ({"assignee": "me"}, ["mine"]),
        ({"q": "payroll"}, ["theirs"]),
        ({"q": "Courier"}, ["beta"]),
        ({"sla": "paused"}, ["waiting"]),
        ({"sla": "soon"}, ["breaching"]),
    ],
    ids=lambda v: str(v),
)
def test_it_narrows_the_list_by_each_queue_filter(agent, spread, params, expected):
    response = agent.get(f"{API}/tickets", params)
    assert sorted(_numbers(response)) == sorted(spread[k].number for k in expected)


def test_it_filters_by_assignee_organisation_and_number(agent, spread, consultant, other_org):
    assert _numbers(agent.get(f"{API}/tickets", {"assignee": consultant.pk})) == [
        spread["theirs"].number
    ]
    unassigned = set(_numbers(agent.get(f"{API}/tickets", {"assignee": "none"})))
    assert spread["base"].number in unassigned
    assert spread["mine"].number not in unassigned
    assert _numbers(agent.get(f"{API}/tickets", {"organisation": other_org.pk})) == [
        spread["beta"].number
    ]
    wanted = spread["question"]
    digits = wanted.number.rsplit("-", 1)[1].lstrip("0")
    assert _numbers(agent.get(f"{API}/tickets", {"q": digits})) == [wanted.number]
    assert _numbers(agent.get(f"{API}/tickets", {"q": wanted.number.lower()})) == [wanted.number]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"priority": "99"}, "priority"),
        ({"status": "lost"}, "status"),
        ({"sort": "random"}, "sort"),
        ({"assignee": "somebody"}, "assignee"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_it_names_the_filter_it_cannot_use(agent, spread, params, field):
    response = agent.get(f"{API}/tickets", params)
    assert response.status_code == 422
    body = error_of(response)
    assert body["code"] == "validation_error"
    assert field in body["fields"]


def test_it_refuses_a_filter_on_an_organisation_out_of_reach(api_client, owner, spread, other_org):
    response = api_client(owner).get(f"{API}/tickets", {"organisation": other_org.pk})
    assert response.status_code == 422
    assert "organisation" in error_of(response)["fields"]
    assert "Beta" not in response.content.decode()


def test_it_lists_only_what_a_customer_may_see(api_client, owner, teammate, coordinator, spread):
    own = set(_numbers(api_client(owner).get(f"{API}/tickets", {"status": "all"})))
    assert spread["beta"].number not in own
    assert len(own) == 9
    assert _numbers(api_client(teammate).get(f"{API}/tickets", {"status": "all"})) == []
    assert len(_numbers(api_client(coordinator).get(f"{API}/tickets", {"status": "all"}))) == 9


def test_it_hides_service_level_details_from_customers(api_client, owner, agent, spread):
    number = spread["breaching"].number
    as_agent = agent.get(f"{API}/tickets/{number}").json()
    assert as_agent["sla_due_at"] is not None
    as_customer = api_client(owner).get(f"{API}/tickets/{number}").json()
    assert as_customer["sla_due_at"] is None
    assert as_customer["sla_state"] is None


@pytest.mark.parametrize("sort", ["-updated", "created", "priority"])
def test_it_pages_with_cursors_through_every_request_exactly_once(agent, owner, org, sort):
    same_moment = timezone.now() - timedelta(hours=1)
    tickets = [ticket_for(owner, org, subject=f"Paged {i}") for i in range(13)]
    for i, t in enumerate(tickets):
        # Ties on purpose: the cursor must break them by id, not skip or repeat rows.
        _set(t, updated_at=same_moment, created_at=same_moment, priority=1 + i % 2)
    pages, cursor = [], None
    while True:
        params = {"sort": sort, "limit": 5, **({"after": cursor} if cursor else {})}
        body = agent.get(f"{API}/tickets", params).json()
        pages.append([t["number"] for t in body["items"]])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [len(p) for p in pages] == [5, 5, 3]
    seen = [n for p in pages for n in p]
    assert len(seen) == len(set(seen)) == 13
    back = agent.get(f"{API}/tickets", {"sort": sort, "limit": 5, "before": body["prev_cursor"]})
    assert _numbers(back) == pages[1]


def test_it_caps_the_page_size(agent, owner, org, settings):
    settings.AFTERCARE_API_MAX_PAGE_SIZE = 2
    for i in range(3):
        ticket_for(owner, org, subject=f"Capped {i}")
    assert len(_numbers(agent.get(f"{API}/tickets", {"limit": 100}))) == 2


@pytest.mark.parametrize(
    "cursor", ["not-a-cursor", "WyJ4IiwxXQ", "Wzk5OTk5OTk5OTk5OTk5OTk5OTk5LDFd"]
)
def test_it_survives_a_tampered_cursor(agent, ticket, cursor):
    response = agent.get(f"{API}/tickets", {"after": cursor, "sort": "priority"})
    assert response.status_code in (200, 422)
    if response.status_code == 422:
        assert "after" in error_of(response)["fields"]


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_it_runs_the_same_number_of_queries_for_5_or_40_requests(
    agent, owner, org, operator, consultant
):
    def many(n):
        for i in range(n):
            _set(
                ticket_for(owner, org, subject=f"Bulk {i}"), assignee=[operator, consultant][i % 2]
            )

    url = f"{API}/tickets?limit=100"
    many(5)
    _queries(agent, url)  # warm caches
    few = _queries(agent, url)
    many(35)
    assert _queries(agent, url) == few
    assert few <= 12


# -- filing ---------------------------------------------------------------------------


def test_it_files_a_request_for_a_customer(api_client, owner, org, system):
    response = api_client(owner).post_json(
        f"{API}/tickets",
        {
            "organisation": org.pk,
            "subject": "Cannot post invoices",
            "description": "Error 42 on posting.",
            "category": "incident",
            "priority": 2,
            "system": system.pk,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    ticket = Ticket.objects.get(number=body["number"])
    assert ticket.channel == Channel.API
    assert (ticket.reporter, ticket.created_by, ticket.system) == (owner, owner, system)
    assert body["priority"] == 2
    assert body["version"] == ticket.version
    assert Event.objects.filter(ticket=ticket, action="desk.ticket.created").exists()


def test_it_files_a_request_on_behalf_of_a_caller(agent, owner, org, operator):
    response = agent.post_json(
        f"{API}/tickets",
        {
            "organisation": org.pk,
            "reporter": owner.pk,
            "subject": "Phoned in",
            "description": "Called about labels.",
            "category": "consultation",
        },
    )
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(number=response.json()["number"])
    assert (ticket.reporter, ticket.created_by) == (owner, operator)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subject": ""}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"description": ""}, "description"),
        ({"category": "wish"}, "category"),
        ({"priority": 7}, "priority"),
        ({"organisation": "alpha"}, "organisation"),
        ({"system": 999999}, "system"),
    ],
)
def test_it_names_the_field_that_stops_a_request(api_client, owner, org, change, field):
    payload = {
        "organisation": org.pk,
        "subject": "Valid",
        "description": "Valid",
        "category": "incident",
        **change,
    }
    response = api_client(owner).post_json(f"{API}/tickets", payload)
    assert response.status_code == 422, response.content
    body = error_of(response)
    assert body["code"] == "validation_error"
    assert field in body["fields"], body
    assert not Ticket.objects.filter(subject="Valid").exists()


def test_it_refuses_a_missing_field_by_name(api_client, owner, org):
    response = api_client(owner).post_json(f"{API}/tickets", {"organisation": org.pk})
    assert response.status_code == 422
    assert {"subject", "description", "category"} <= set(error_of(response)["fields"])


def test_it_refuses_a_body_that_is_not_json(api_client, owner):
    response = api_client(owner).post(
        f"{API}/tickets", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


def test_it_refuses_to_file_in_another_organisation(api_client, owner, other_org):
    response = api_client(owner).post_json(
        f"{API}/tickets",
        {"organisation": other_org.pk, "subject": "S", "description": "D", "category": "incident"},
    )
    assert response.status_code == 422
    assert "organisation" in error_of(response)["fields"]
    assert not Ticket.objects.filter(organisation=other_org).exists()


def test_it_refuses_a_system_of_another_organisation(api_client, owner, org, other_system):
    response = api_client(owner).post_json(
        f"{API}/tickets",
        {
            "organisation": org.pk,
            "subject": "S",
            "description": "D",
            "category": "incident",
            "system": other_system.pk,
        },
    )
    assert response.status_code == 422
    assert "system" in error_of(response)["fields"]


def test_it_lets_no_customer_file_for_someone_else(api_client, owner, teammate, org):
    response = api_client(owner).post_json(
        f"{API}/tickets",
        {
            "organisation": org.pk,
            "reporter": teammate.pk,
            "subject": "S",
            "description": "D",
            "category": "incident",
        },
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


def test_it_asks_staff_whom_the_request_is_for(agent, org):
    response = agent.post_json(
        f"{API}/tickets",
        {"organisation": org.pk, "subject": "S", "description": "D", "category": "incident"},
    )
    assert response.status_code == 422
    assert "reporter" in error_of(response)["fields"]


def test_it_refuses_a_developer_filing_on_behalf(api_client, developer, owner, org):
    response = api_client(developer).post_json(
        f"{API}/tickets",
        {
            "organisation": org.pk,
            "reporter": owner.pk,
            "subject": "S",
            "description": "D",
            "category": "incident",
        },
    )
    assert response.status_code == 403


# -- reading --------------------------------------------------------------------------


def test_it_reads_a_request_with_the_moves_the_caller_may_make(api_client, owner, agent, ticket):
    body = api_client(owner).get(f"{API}/tickets/{ticket.number}").json()
    assert body["number"] == ticket.number
    assert body["description"] == ticket.description
    assert body["organisation"]["code"] == "alpha"
    assert body["reporter"]["name"] == owner.display_name
    assert body["transitions"] == []  # a customer has no move on a new request
    moves = {t["target"] for t in agent.get(f"{API}/tickets/{ticket.number}").json()["transitions"]}
    assert moves == {"sprint", "waiting", "rejected"}


def test_it_answers_404_for_an_unknown_number(agent):
    response = agent.get(f"{API}/tickets/AC-1999-000001")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# -- changing -------------------------------------------------------------------------


def test_it_changes_the_priority_with_a_reason(agent, ticket):
    response = agent.patch_json(
        f"{API}/tickets/{ticket.number}",
        {"version": ticket.version, "priority": 1, "priority_reason": "Production is down"},
    )
    assert response.status_code == 200, response.content
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.priority_reason) == (1, "Production is down")
    assert response.json()["version"] == ticket.version
    assert Event.objects.filter(ticket=ticket, action="desk.ticket.reprioritised").exists()


def test_it_names_the_missing_reason_for_a_priority_change(agent, ticket):
    response = agent.patch_json(
        f"{API}/tickets/{ticket.number}", {"version": ticket.version, "priority": 1}
    )
    assert response.status_code == 422
    assert "priority_reason" in error_of(response)["fields"]
    ticket.refresh_from_db()
    assert ticket.priority == Priority.NORMAL


def test_it_classifies_assigns_and_escalates_in_one_change(
    agent, ticket, system, consultant, operator
):
    response = agent.patch_json(
        f"{API}/tickets/{ticket.number}",
        {
            "version": ticket.version,
            "category": "problem",
            "system": system.pk,
            "subject": "Posting fails for credit notes",
            "assignee": consultant.pk,
            "level": 2,
            "escalation_note": "Needs the ledger team",
        },
    )
    assert response.status_code == 200, response.content
    ticket.refresh_from_db()
    assert ticket.category == Category.PROBLEM
    assert ticket.system == system
    assert ticket.subject == "Posting fails for credit notes"
    assert ticket.assignee == consultant
    assert ticket.level == Level.L2
    body = response.json()
    assert body["assignee"]["id"] == consultant.pk
    assert body["level"] == 2


def test_it_unassigns_with_null(agent, ticket, consultant):
    services.assign(ticket=ticket, actor=consultant, assignee=consultant)
    ticket.refresh_from_db()
    response = agent.patch_json(
        f"{API}/tickets/{ticket.number}", {"version": ticket.version, "assignee": None}
    )
    assert response.status_code == 200, response.content
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_it_changes_nothing_when_one_part_of_a_change_fails(agent, ticket, owner):
    response = agent.patch_json(
        f"{API}/tickets/{ticket.number}",
        {
            "version": ticket.version,
            "priority": 1,
            "priority_reason": "Urgent",
            "assignee": owner.pk,  # a customer: refused
        },
    )
    assert response.status_code == 422
    assert "assignee" in error_of(response)["fields"]
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.priority, fresh.version, fresh.assignee) == (
        Priority.NORMAL,
        ticket.version,
        None,
    )


def test_it_refuses_a_stale_version_with_409_and_keeps_the_other_change(agent, ticket, consultant):
    stale = ticket.version
    services.reprioritise(ticket=ticket, actor=consultant, priority=2, reason="Raised")
    response = agent.patch_json(
        f"{API}/tickets/{ticket.number}",
        {"version": stale, "priority": 4, "priority_reason": "Lowered"},
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.priority_reason) == (2, "Raised")


def test_it_lets_a_customer_change_nothing(api_client, owner, ticket):
    for change in ({"priority": 1, "priority_reason": "Please"}, {"category": "problem"}):
        response = api_client(owner).patch_json(
            f"{API}/tickets/{ticket.number}", {"version": ticket.version, **change}
        )
        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.priority, fresh.category, fresh.version) == (3, "incident", ticket.version)


def test_it_lets_each_role_change_what_it_may(api_client, developer, consultant, ticket):
    # A developer may assign but not triage; a consultant may not escalate.
    dev = api_client(developer)
    refused = dev.patch_json(
        f"{API}/tickets/{ticket.number}", {"version": ticket.version, "category": "problem"}
    )
    assert refused.status_code == 403
    assigned = dev.patch_json(
        f"{API}/tickets/{ticket.number}", {"version": ticket.version, "assignee": developer.pk}
    )
    assert assigned.status_code == 200
    ticket.refresh_from_db()
    escalate = api_client(consultant).patch_json(
        f"{API}/tickets/{ticket.number}", {"version": ticket.version, "level": 2}
    )
    assert escalate.status_code == 403


def test_it_wants_something_to_change_and_a_version(agent, ticket):
    response = agent.patch_json(f"{API}/tickets/{ticket.number}", {"version": ticket.version})
    assert response.status_code == 422
    response = agent.patch_json(f"{API}/tickets/{ticket.number}", {"priority": 1})
    assert response.status_code == 422
    assert "version" in error_of(response)["fields"]


def test_it_refuses_to_send_a_request_back_to_l1(agent, ticket):
    _set(ticket, level=Level.L2)
    response = agent.patch_json(
        f"{API}/tickets/{ticket.number}", {"version": ticket.version, "level": 1}
    )
    assert response.status_code == 422
    assert "level" in error_of(response)["fields"]


# -- moving ---------------------------------------------------------------------------


def test_it_moves_a_request_through_the_workflow(agent, ticket):
    response = agent.post_json(
        f"{API}/tickets/{ticket.number}/transitions",
        {"target": "sprint", "version": ticket.version},
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "sprint"
    ticket.refresh_from_db()
    assert ticket.status == Status.SPRINT


def test_it_refuses_a_move_the_workflow_does_not_allow(agent, api_client, owner, ticket):
    for client, target in ((agent, "released"), (api_client(owner), "archived")):
        response = client.post_json(
            f"{API}/tickets/{ticket.number}/transitions", {"target": target}
        )
        assert response.status_code == 409
        assert error_of(response)["code"] == "transition_not_allowed"
    ticket.refresh_from_db()
    assert ticket.status == Status.BACKLOG


def test_it_asks_for_the_reason_a_rejection_needs(agent, ticket):
    response = agent.post_json(f"{API}/tickets/{ticket.number}/transitions", {"target": "rejected"})
    assert response.status_code == 409
    assert error_of(response)["code"] == "transition_not_allowed"
    response = agent.post_json(
        f"{API}/tickets/{ticket.number}/transitions", {"target": "rejected", "reason": "Duplicate"}
    )
    assert response.status_code == 200
    assert response.json()["rejection_reason"] == "Duplicate"


def test_it_lets_the_customer_accept_a_released_request(api_client, owner, ticket):
    _set(ticket, status=Status.RELEASED, released_at=timezone.now())
    response = api_client(owner).post_json(
        f"{API}/tickets/{ticket.number}/transitions", {"target": "archived"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "archived"


def test_it_refuses_a_stale_move(agent, ticket, consultant):
    stale = ticket.version
    services.reprioritise(ticket=ticket, actor=consultant, priority=2, reason="Raised")
    response = agent.post_json(
        f"{API}/tickets/{ticket.number}/transitions", {"target": "sprint", "version": stale}
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"


def test_it_names_an_unknown_target(agent, ticket):
    response = agent.post_json(f"{API}/tickets/{ticket.number}/transitions", {"target": "moon"})
    assert response.status_code == 422
    assert "target" in error_of(response)["fields"]


# -- service levels -------------------------------------------------------------------


def test_it_shows_staff_the_service_level_clocks(agent, ticket):
    response = agent.get(f"{API}/tickets/{ticket.number}/sla")
    assert response.status_code == 200, response.content
    body = response.json()
    assert {c["metric"] for c in body["clocks"]} == {"first_response", "resolution"}
    clock = body["clocks"][0]
    assert clock["state"] == "running"
    assert clock["target_minutes"] > 0
    assert body["due_at"] is not None


def test_it_keeps_the_clocks_from_customers(api_client, owner, ticket):
    response = api_client(owner).get(f"{API}/tickets/{ticket.number}/sla")
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


def test_it_keeps_a_restricted_agent_to_their_organisations(api_client, operator, org, b_ticket):
    AgentRestriction.objects.create(user=operator, organisation=org)
    client = api_client(operator)
    for path in ("", "/sla", "/comments", "/attachments"):
        assert client.get(f"{API}/tickets/{b_ticket.number}{path}").status_code == 404
    assert b_ticket.number not in _numbers(client.get(f"{API}/tickets", {"status": "all"}))


@pytest.mark.parametrize("field", ["subject", "priority_reason", "escalation_note"])
def test_it_refuses_a_nul_character_by_name_on_every_engine(api_client, operator, ticket, field):
    """PostgreSQL cannot store NUL in text: a 422 naming the field, never a 500."""
    client = api_client(operator)
    data = {field: "Printer\x00jam"}
    if field == "priority_reason":
        data["priority"] = 1
    response = client.patch_json(f"{API}/tickets/{ticket.number}", data)
    assert response.status_code == 422, response.content
    assert any(field in name for name in error_of(response)["fields"])
    listed = client.get(f"{API}/tickets", {"q": "jam\x00"})
    assert listed.status_code == 422
    ticket.refresh_from_db()
    assert "\x00" not in ticket.subject
