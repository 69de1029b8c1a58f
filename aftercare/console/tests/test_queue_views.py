"""The queue's sidebar (views with live counts) and column sorting with keyset paging."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from aftercare.console.forms import SORTS
from aftercare.desk.models import Level, Priority, Status, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.tenancy.models import AgentRestriction

pytestmark = pytest.mark.django_db


def _set(ticket: Ticket, **fields) -> Ticket:
    Ticket.objects.filter(pk=ticket.pk).update(**fields)
    ticket.refresh_from_db()
    return ticket


def _counts(response) -> dict[str, int]:
    views = response.context["views"]
    return {v["key"]: v["count"] for group in views.values() for v in group}


def _numbers(response) -> list[str]:
    return [t.number for t in response.context["page"].rows]


@pytest.fixture
def desk(owner, org, other_org, outsider, operator, consultant):
    """Open requests of two organisations, one of each kind a view picks out."""
    now = timezone.now()
    return {
        "mine": _set(ticket_for(owner, org, subject="Mine"), assignee=operator),
        "theirs": _set(ticket_for(owner, org, subject="Theirs"), assignee=consultant),
        "breaching": _set(
            ticket_for(owner, org, subject="Due soon"), sla_due_at=now + timedelta(minutes=30)
        ),
        "overdue": _set(
            ticket_for(owner, org, subject="Overdue"), sla_due_at=now - timedelta(minutes=5)
        ),
        "later": _set(
            ticket_for(owner, org, subject="Due later"), sla_due_at=now + timedelta(hours=5)
        ),
        "waiting": _set(ticket_for(owner, org, subject="Waiting"), status=Status.WAITING),
        "l2": _set(ticket_for(owner, org, subject="At L2"), level=Level.L2),
        "closed": _set(ticket_for(owner, org, subject="Closed"), status=Status.ARCHIVED),
        "beta": _set(
            ticket_for(outsider, other_org, subject="Beta mine"),
            assignee=operator,
            sla_due_at=now + timedelta(minutes=10),
        ),
    }


# -- the sidebar ------------------------------------------------------------------------


def test_it_counts_each_view_as_the_list_it_opens(client_for, operator, desk):
    client = client_for(operator)
    response = client.get(reverse("console:queue"))
    counts = _counts(response)
    # Nine requests, one archived: eight open, of two organisations.
    assert counts == {
        "all": 8,
        "mine": 2,
        "unassigned": 5,
        "breaching": 3,
        "waiting": 1,
        "l1": 7,
        "l2": 1,
    }
    for entry in response.context["views"]["builtin"]:
        listed = client.get(entry["href"])
        assert listed.context["total"] == entry["count"], entry["key"]


def test_it_counts_only_what_a_restricted_agent_may_see(client_for, operator, desk, org):
    AgentRestriction.objects.create(user=operator, organisation=org)
    response = client_for(operator).get(reverse("console:queue"))
    counts = _counts(response)
    assert counts["all"] == 7
    assert counts["mine"] == 1
    assert counts["breaching"] == 2
    assert "Beta mine" not in response.content.decode()


def test_it_counts_mine_for_whoever_is_looking(client_for, consultant, desk):
    counts = _counts(client_for(consultant).get(reverse("console:queue")))
    assert counts["mine"] == 1
    assert counts["all"] == 8


def test_it_marks_the_view_being_looked_at(client_for, operator, desk):
    response = client_for(operator).get(reverse("console:queue"), {"assignee": "me", "q": ""})
    active = [v["key"] for v in response.context["views"]["builtin"] if v["active"]]
    assert active == ["mine"]
    assert 'aria-current="page"' in response.content.decode()


def test_it_counts_every_view_in_one_query(
    client_for, manager, operator, desk, org, django_assert_max_num_queries
):
    from aftercare.console.models import SavedView

    for i in range(6):
        SavedView.objects.create(
            name=f"View {i}", owner=operator, query=f"priority={1 + i % 4}", position=i
        )
    SavedView.objects.create(name="Shared", owner=manager, is_shared=True, query="q=soon")
    SavedView.objects.create(name="Closed", owner=manager, is_shared=True, query="status=all")
    client = client_for(operator)
    url = reverse("console:queue-counts")
    client.get(url)  # warm the session and content types
    # Session, user, groups, restrictions, the group names (the user's default order), the
    # saved views and one aggregate for them all.
    with django_assert_max_num_queries(8):
        response = client.get(url, HTTP_HX_CURRENT_URL="http://testserver/console/?level=2")
    assert response.status_code == 200
    counts = _counts(response)
    assert counts["l2"] == 1
    assert len(counts) == 7 + 8
    shared = {v["label"]: v["count"] for v in response.context["views"]["shared"]}
    assert shared == {"Shared": 1, "Closed": 9}
    assert [v["key"] for v in response.context["views"]["builtin"] if v["active"]] == ["l2"]


def test_it_refreshes_the_counts_with_htmx(client_for, operator, desk):
    body = client_for(operator).get(reverse("console:queue")).content.decode()
    assert 'hx-trigger="every 60s' in body
    assert reverse("console:queue-counts") in body


def test_it_keeps_the_queue_within_its_query_budget_with_the_sidebar(
    client_for, operator, desk, django_assert_max_num_queries
):
    client = client_for(operator)
    client.get(reverse("console:queue"))
    with django_assert_max_num_queries(15):
        client.get(reverse("console:queue"))


def test_it_finds_requests_breaching_within_an_hour(client_for, operator, desk):
    response = client_for(operator).get(reverse("console:queue"), {"sla": "hour"})
    assert set(_numbers(response)) == {
        desk["breaching"].number,
        desk["overdue"].number,
        desk["beta"].number,
    }


def test_it_shows_nothing_for_an_organisation_out_of_reach(
    client_for, operator, desk, org, other_org
):
    AgentRestriction.objects.create(user=operator, organisation=org)
    response = client_for(operator).get(
        reverse("console:queue"), {"organisation": other_org.pk, "status": "all"}
    )
    assert response.status_code == 200
    assert _numbers(response) == []
    assert other_org.name not in response.content.decode()


def test_it_keeps_the_other_filters_when_one_value_is_bad(client_for, operator, desk):
    response = client_for(operator).get(
        reverse("console:queue"), {"priority": "99", "status": "waiting"}
    )
    assert _numbers(response) == [desk["waiting"].number]


def test_it_answers_the_counts_to_staff_only(client, client_for, owner):
    assert client_for(owner).get(reverse("console:queue-counts")).status_code == 403
    assert client.get(reverse("console:queue-counts")).status_code == 302


# -- sorting by column ------------------------------------------------------------------


def _header(response, column) -> dict:
    return next(h for h in response.context["headers"] if h["column"] == column)


def test_it_sorts_by_a_column_and_toggles_on_the_next_click(client_for, operator, desk):
    client = client_for(operator)
    url = reverse("console:queue")
    first = client.get(url, {"level": "1"})
    header = _header(first, "organisation")
    assert header["aria"] == "none"
    query = parse_qs(urlsplit(header["href"]).query)
    assert query == {"level": ["1"], "sort": ["organisation"]}
    ascending = client.get(url, query)
    header = _header(ascending, "organisation")
    assert header["aria"] == "ascending"
    assert 'aria-sort="ascending"' in ascending.content.decode()
    assert parse_qs(urlsplit(header["href"]).query)["sort"] == ["-organisation"]
    descending = client.get(url, parse_qs(urlsplit(header["href"]).query))
    assert _header(descending, "organisation")["aria"] == "descending"
    names = [t.organisation.name for t in descending.context["page"].rows]
    assert names == sorted(names, reverse=True)


def test_it_marks_the_default_sort_on_the_updated_column(client_for, consultant, desk):
    response = client_for(consultant).get(reverse("console:queue"))
    assert _header(response, "updated")["aria"] == "descending"
    assert parse_qs(urlsplit(_header(response, "updated")["href"]).query)["sort"] == ["updated"]


def test_it_drops_the_page_cursor_from_sort_links(client_for, operator, desk, settings):
    settings.AFTERCARE_QUEUE_PAGE_SIZE = 5
    client = client_for(operator)
    page = client.get(reverse("console:queue")).context["page"]
    nxt = client.get(reverse("console:queue"), {"after": page.next_cursor})
    for header in nxt.context["headers"]:
        if header["sortable"]:
            assert "after=" not in header["href"]


def test_it_sorts_status_in_workflow_order(client_for, operator, owner, org):
    for status in (Status.WAITING, Status.BACKLOG, Status.IN_PROGRESS):
        _set(ticket_for(owner, org, subject=status), status=status)
    response = client_for(operator).get(reverse("console:queue"), {"sort": "status"})
    assert [t.status for t in response.context["page"].rows] == [
        Status.BACKLOG,
        Status.IN_PROGRESS,
        Status.WAITING,
    ]


def test_it_sorts_requests_without_an_sla_due_time_last_both_ways(client_for, operator, owner, org):
    now = timezone.now()
    soon = _set(ticket_for(owner, org, subject="soon"), sla_due_at=now + timedelta(hours=1))
    late = _set(ticket_for(owner, org, subject="late"), sla_due_at=now + timedelta(hours=9))
    none = _set(ticket_for(owner, org, subject="none"), sla_due_at=None)
    client = client_for(operator)
    up = _numbers(client.get(reverse("console:queue"), {"sort": "sla"}))
    down = _numbers(client.get(reverse("console:queue"), {"sort": "-sla"}))
    assert up == [soon.number, late.number, none.number]
    assert down == [late.number, soon.number, none.number]


@pytest.fixture
def tied(owner, org, operator, consultant, developer):
    """Thirteen requests with many ties on every sort key (and some empty values)."""
    same = timezone.now() - timedelta(hours=2)
    people = [operator, consultant, None, developer]
    tickets = []
    for i in range(13):
        t = ticket_for(owner, org, subject=["Alpha", "beta", "alpha"][i % 3])
        tickets.append(
            _set(
                t,
                updated_at=same,
                created_at=same,
                priority=1 + i % 2,
                level=1 + i % 2,
                status=[Status.BACKLOG, Status.WAITING][i % 2],
                assignee=people[i % 4],
                sla_due_at=None if i % 3 == 0 else same + timedelta(hours=i % 2),
            )
        )
    return tickets


def _walk(client, sort, direction="after"):
    url = reverse("console:queue")
    pages, cursor = [], None
    while True:
        params = {"sort": sort, **({"after": cursor} if cursor else {})}
        page = client.get(url, params).context["page"]
        pages.append(page)
        cursor = page.next_cursor
        if not cursor:
            return pages


@pytest.mark.parametrize("sort", sorted(SORTS))
def test_it_pages_through_every_request_exactly_once_in_each_sort(
    client_for, operator, tied, settings, sort
):
    settings.AFTERCARE_QUEUE_PAGE_SIZE = 5
    client = client_for(operator)
    pages = _walk(client, sort)
    numbers = [[t.number for t in p.rows] for p in pages]
    assert [len(p) for p in numbers] == [5, 5, 3]
    seen = [n for p in numbers for n in p]
    assert len(seen) == len(set(seen)) == 13
    # The pages join into the order one unpaged query gives.
    settings.AFTERCARE_QUEUE_PAGE_SIZE = 50
    whole = _numbers(client.get(reverse("console:queue"), {"sort": sort}))
    assert seen == whole
    # And walking back from the last page gives the same pages.
    settings.AFTERCARE_QUEUE_PAGE_SIZE = 5
    url = reverse("console:queue")
    back = client.get(url, {"sort": sort, "before": pages[2].prev_cursor}).context["page"]
    assert [t.number for t in back.rows] == numbers[1]
    first = client.get(url, {"sort": sort, "before": back.prev_cursor}).context["page"]
    assert [t.number for t in first.rows] == numbers[0]
    assert first.prev_cursor is None


def test_it_offers_every_column_sort_in_the_sort_menu(client_for, operator, desk):
    body = client_for(operator).get(reverse("console:queue")).content.decode()
    for value in ("number", "-number", "assignee", "-sla", "-priority"):
        assert f'value="{value}"' in body
    assert Priority.CRITICAL  # the menu names stay the same for the old values
    assert "Most urgent" in body


# -- the new addresses, walked as every kind of visitor ---------------------------------


@pytest.fixture
def beta_world(manager, operator, org, other_org, outsider, owner):
    """B's request and a shared view on B; the operator is restricted to A."""
    from aftercare.console.models import SavedView

    beta = ticket_for(outsider, other_org, subject="Beta secret ledger")
    alpha = ticket_for(owner, org, subject="Alpha visible")
    view = SavedView.objects.create(
        name="Beta watch", owner=manager, is_shared=True, query=f"organisation={other_org.pk}"
    )
    personal = SavedView.objects.create(name="Mara private", owner=manager, query="level=2")
    AgentRestriction.objects.create(user=operator, organisation=org)
    return {"beta": beta, "alpha": alpha, "view": view, "personal": personal}


def _new_urls(world) -> list[tuple[str, str]]:
    view, personal = world["view"], world["personal"]
    return [
        ("get", reverse("console:queue-counts")),
        ("get", reverse("console:views")),
        ("post", reverse("console:view-create")),
        ("post", reverse("console:bulk")),
        *(
            (method, reverse(name) + f"?view={v.pk}")
            for v in (view, personal)
            for method, name in (
                ("get", "console:view-edit"),
                ("post", "console:view-edit"),
                ("post", "console:view-delete"),
                ("post", "console:view-move"),
            )
        ),
    ]


def test_it_keeps_b_out_of_the_new_addresses_for_an_agent_restricted_to_a(
    client_for, operator, other_org, beta_world
):
    from aftercare.console.models import SavedView

    client = client_for(operator)
    beta = beta_world["beta"]
    payload = {
        "tickets": [beta.number],
        "action": "priority",
        "priority": "1",
        "reason": "Injected",
        "name": "Injected",
        "query": f"organisation={other_org.pk}",
        "next_url": "/console/",
    }
    for method, url in _new_urls(beta_world):
        response = getattr(client, method)(url, payload, follow=True)
        assert response.status_code in (200, 404), (method, url, response.status_code)
        body = response.content.decode()
        for secret in (beta.subject, other_org.name, "Beta watch", "Mara private"):
            assert secret not in body, (method, url, secret)
        if "?view=" in url:
            assert response.status_code == 404, (method, url)
    beta.refresh_from_db()
    assert beta.priority == Priority.NORMAL
    assert SavedView.objects.get(pk=beta_world["view"].pk).name == "Beta watch"
    assert SavedView.objects.get(pk=beta_world["personal"].pk).name == "Mara private"


def test_it_keeps_customers_and_anonymous_visitors_out_of_the_new_addresses(
    client, client_for, owner, beta_world
):
    for method, url in _new_urls(beta_world):
        assert getattr(client_for(owner), method)(url).status_code == 403, (method, url)
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("sort", ["status", "-assignee", "subject", "-organisation", "-sla"])
def test_it_pages_the_api_by_the_new_sorts_too(client_for, operator, tied, sort):
    """The API lists through the same filters and sorts: a computed key must work there."""
    client = client_for(operator)
    seen, cursor = [], None
    while True:
        params = {"sort": sort, "limit": 5, **({"after": cursor} if cursor else {})}
        response = client.get("/api/v1/tickets", params)
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [item["number"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 13


# -- priority, then arrival: the L1 operator's order -------------------------------------


@pytest.fixture
def arrivals(owner, org, other_org, outsider):
    """Requests arriving an hour apart, priorities out of arrival order, and created
    (imported) out of id order: arrival is ``created_at``, not the id."""
    start = timezone.now() - timedelta(days=1)
    plan = [  # (subject, priority, hours after start)
        ("normal early", Priority.NORMAL, 1),
        ("critical late", Priority.CRITICAL, 9),
        ("normal earliest", Priority.NORMAL, 0),
        ("critical early", Priority.CRITICAL, 2),
        ("low", Priority.LOW, 3),
        ("high", Priority.HIGH, 5),
    ]
    tickets = {}
    for subject, priority, hours in plan:
        when = start + timedelta(hours=hours, microseconds=hours * 1000)
        tickets[subject] = _set(
            ticket_for(owner, org, subject=subject),
            priority=priority,
            created_at=when,
            updated_at=timezone.now() - timedelta(minutes=hours),
        )
    tickets["beta"] = ticket_for(outsider, other_org, subject="Beta critical", priority=1)
    return tickets


ARRIVAL_ORDER = [
    "critical early",
    "critical late",
    "high",
    "normal earliest",
    "normal early",
    "low",
]


def test_an_operators_queue_opens_in_priority_then_arrival_order(
    client_for, operator, consultant, arrivals
):
    AgentRestriction.objects.create(user=operator, organisation=arrivals["low"].organisation)
    response = client_for(operator).get(reverse("console:queue"))
    subjects = [t.subject for t in response.context["page"].rows]
    assert subjects == ARRIVAL_ORDER  # and nothing of the organisation they may not see
    assert 'value="priority-arrival" selected' in response.content.decode()
    # Filtering without choosing an order keeps the operator's default.
    filtered = client_for(operator).get(reverse("console:queue"), {"level": "1"})
    assert [t.subject for t in filtered.context["page"].rows] == ARRIVAL_ORDER
    # A consultant keeps the most recently updated first, and may choose the new order.
    theirs = client_for(consultant).get(reverse("console:queue"))
    assert [t.subject for t in theirs.context["page"].rows][0] == "Beta critical"
    chosen = client_for(consultant).get(reverse("console:queue"), {"sort": "priority-arrival"})
    rows = [t.subject for t in chosen.context["page"].rows]
    assert rows == [*ARRIVAL_ORDER[:2], "Beta critical", *ARRIVAL_ORDER[2:]]


def test_priority_then_arrival_pages_by_keyset_in_both_directions(
    client_for, operator, arrivals, settings
):
    settings.AFTERCARE_QUEUE_PAGE_SIZE = 2
    AgentRestriction.objects.create(user=operator, organisation=arrivals["low"].organisation)
    client = client_for(operator)
    pages = _walk(client, "priority-arrival")
    seen = [t.subject for p in pages for t in p.rows]
    assert seen == ARRIVAL_ORDER
    back = client.get(
        reverse("console:queue"), {"sort": "priority-arrival", "before": pages[2].prev_cursor}
    ).context["page"]
    assert [t.subject for t in back.rows] == ARRIVAL_ORDER[2:4]
