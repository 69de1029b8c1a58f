"""The managers' dashboard: its numbers on a small hand-made desk, who may see it, and
that its cost does not grow with the number of requests."""

from __future__ import annotations

import importlib
import itertools
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from aftercare.accounts.roles import Role
from aftercare.desk.models import Ticket
from aftercare.sla.models import SlaClock
from aftercare.sla.reports import decided
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import customer, staff

pytestmark = pytest.mark.django_db
# The package exports the view under the module's name, so fetch the module itself.
dash = importlib.import_module("aftercare.console.views.dashboard")

NZ = ZoneInfo("Pacific/Auckland")  # UTC+13 in December: weeks start on Sunday in UTC
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=NZ)  # a Wednesday; Tuesday 23:00 UTC
_numbers = itertools.count(1)


def nz(*args) -> datetime:
    return datetime(*args, tzinfo=NZ)


def make(org, reporter, created, *, status="backlog", priority=3, resolved=None, assignee=None):
    return Ticket.objects.create(
        number=f"AC-2026-{next(_numbers):06d}",
        organisation=org,
        reporter=reporter,
        created_by=reporter,
        assignee=assignee,
        category="incident",
        channel="portal",
        subject=f"Request {reporter.username} {created:%d %b}",
        description="x",
        priority=priority,
        status=status,
        created_at=created,
        updated_at=created,
        resolved_at=resolved,
    )


def clock(ticket, state, *, metric="resolution", stopped=None, deadline=None, breached=None):
    return SlaClock.objects.create(
        ticket=ticket,
        organisation=ticket.organisation,
        metric=metric,
        target_minutes=60,
        state=state,
        started_at=ticket.created_at,
        stopped_at=stopped,
        deadline=deadline,
        breached_at=breached,
    )


@pytest.fixture
def agent1(db):
    return staff(Role.CONSULTANT, username="agent1", first_name="Ana", last_name="Agent")


@pytest.fixture
def desk(org, other_org, owner, outsider, agent1):
    """Seven requests around the week boundaries of Auckland (see the module's numbers).

    Weeks (Monday, Auckland): 9 Nov, 16 Nov, 23 Nov, 30 Nov (this week).
    A  created Mon 30 Nov 01:00 (Sunday 29 Nov in UTC), open, critical, unassigned
    B  created Sun 29 Nov 23:30, solved Mon 30 Nov 00:30 (both Sunday in UTC)
    C  created 18 Nov, open, normal, agent1, resolution clock overdue since 28 Nov
    D  created 10 Nov, high, solved (rejected) 20 Nov, clock breached
    E  created 1 Jan, waiting, high, agent1: the oldest open request
    F  created and solved in 2025, archived: outside every window
    G  (Beta) created 25 Nov, low, solved Mon 30 Nov 10:00, clock met
    """
    a = make(org, owner, nz(2026, 11, 30, 1), priority=1)
    b = make(org, owner, nz(2026, 11, 29, 23, 30), status="done", resolved=nz(2026, 11, 30, 0, 30))
    c = make(org, owner, nz(2026, 11, 18, 10), status="in_progress", assignee=agent1)
    d = make(
        org, owner, nz(2026, 11, 10, 9), status="rejected", priority=2, resolved=nz(2026, 11, 20)
    )
    e = make(org, owner, nz(2026, 1, 1, 9), status="waiting", priority=2, assignee=agent1)
    f = make(org, owner, nz(2025, 6, 1), status="archived", resolved=nz(2025, 6, 10))
    g = make(
        other_org,
        outsider,
        nz(2026, 11, 25),
        status="done",
        priority=4,
        resolved=nz(2026, 11, 30, 10),
    )
    clock(b, "met", stopped=b.resolved_at)
    clock(d, "breached", stopped=d.resolved_at)
    clock(c, "running", deadline=nz(2026, 11, 28))  # overdue: counts as breached
    clock(a, "running", deadline=nz(2026, 12, 5))  # not yet due: undecided
    clock(a, "met", metric="first_response", stopped=nz(2026, 11, 30, 2))  # other metric
    clock(f, "met", stopped=f.resolved_at)  # too old
    clock(g, "met", stopped=g.resolved_at)
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g}


def build(weeks=4, tz=NZ, tickets=None, clocks=None, names=None):
    with time_machine.travel(NOW, tick=False), timezone.override(tz):
        names = names or {o.pk: o.name for o in _orgs()}
        return dash.build(
            tickets if tickets is not None else Ticket.objects.all(),
            clocks if clocks is not None else SlaClock.objects.all(),
            organisations=names,
            weeks=weeks,
        )


def _orgs():
    from aftercare.tenancy.models import Organisation

    return Organisation.objects.all()


def test_it_counts_created_and_solved_per_week_in_the_viewers_time_zone(desk):
    board = build()
    assert [w.start for w in board.weeks] == [
        date(2026, 11, 9),
        date(2026, 11, 16),
        date(2026, 11, 23),
        date(2026, 11, 30),
    ]
    assert [w.created for w in board.weeks] == [1, 1, 2, 1]  # D, C, B+G, A
    assert [w.solved for w in board.weeks] == [0, 1, 0, 2]  # D, then B+G
    assert [w.created_urgent for w in board.weeks] == [1, 0, 0, 1]


def test_the_same_requests_fall_into_other_weeks_in_utc(desk):
    board = build(tz=ZoneInfo("UTC"))
    # Now is Tuesday 1 Dec 23:00 UTC: A, B and G happened on Sunday, last week.
    assert board.weeks[-1].start == date(2026, 11, 30)
    assert (board.weeks[-1].created, board.weeks[-1].solved) == (0, 0)
    assert (board.weeks[-2].created, board.weeks[-2].solved) == (3, 2)


def test_it_computes_the_backlog_trend_backwards_from_today(desk):
    board = build()
    assert board.backlog == 3  # A, C, E (B and G are Done: solved)
    assert board.backlog_urgent == 2  # A critical, E high
    # End of week: 9 Nov {D, E}; 16 Nov {C, E}; 23 Nov {B, C, E, G}; now {A, C, E}.
    assert [w.backlog for w in board.weeks] == [2, 2, 4, 3]
    assert [w.backlog_urgent for w in board.weeks] == [2, 1, 1, 2]


def test_it_counts_sla_compliance_per_customer_like_the_sla_report(desk, org, other_org):
    board = build()
    by_name = {c.name: (c.met, c.total) for c in board.customers}
    # Alpha: B met, D breached, C overdue and still running = breached; A undecided.
    assert by_name == {"Alpha Foods": (1, 3), "Beta Logistics": (1, 1)}
    assert [c.name for c in board.customers] == ["Alpha Foods", "Beta Logistics"]  # worst first
    assert board.compliance == 50.0
    assert board.overdue == 1
    # The SLA report's own rule over the same window gives the same numbers.
    with time_machine.travel(NOW, tick=False):
        now = timezone.now()
        same = decided(
            SlaClock.objects.filter(metric="resolution", organisation=org),
            now - dash.timedelta(days=dash.COMPLIANCE_DAYS),
            now,
            now,
        )
        assert (same.filter(state="met").count(), same.count()) == (1, 3)


def test_it_shows_workload_per_agent_by_priority_with_unassigned_first(desk):
    board = build()
    rows = [(a.label, a.by_priority) for a in board.agents]
    assert rows == [("Unassigned", {1: 1}), ("Ana Agent", {3: 1, 2: 1})]


def test_it_lists_the_oldest_open_requests_first(desk):
    board = build()
    assert [t.pk for t in board.oldest] == [desk["e"].pk, desk["c"].pk, desk["a"].pk]


def test_the_page_shows_the_numbers_and_links(client_for, manager, desk):
    manager.time_zone = "Pacific/Auckland"
    manager.save()
    with time_machine.travel(NOW, tick=False):
        response = client_for(manager).get(reverse("console:dashboard"), {"weeks": 4})
    assert response.status_code == 200
    html = response.content.decode()
    board = response.context["board"]
    assert [w.created for w in board.weeks] == [1, 1, 2, 1]
    assert re.search(r'id="kpi-backlog".*?kpi-value">3<', html, re.S)
    assert re.search(r'id="kpi-created".*?kpi-value">1<', html, re.S)
    assert re.search(r'id="kpi-solved".*?kpi-value">2<', html, re.S)
    assert re.search(r'id="kpi-overdue".*?kpi-value">1<', html, re.S)
    assert re.search(r'id="kpi-compliance".*?kpi-value">50.0 %<', html, re.S)
    assert reverse("console:ticket", args=[desk["e"].number]) in html
    assert "30 Nov" in html  # weeks labelled with their Monday
    for chart in ("chart-backlog", "chart-flow", "chart-compliance", "chart-workload"):
        assert f'id="{chart}"' in html
    assert 'class="active">Dashboard<' in html


def test_it_filters_by_customer_and_period(client_for, manager, desk, org):
    with time_machine.travel(NOW, tick=False):
        response = client_for(manager).get(
            reverse("console:dashboard"), {"organisation": org.pk, "weeks": 26}
        )
    board = response.context["board"]
    assert len(board.weeks) == 26
    assert [c.name for c in board.customers] == ["Alpha Foods"]
    page = response.content.decode().split('id="dashboard-filters"', 1)[1]
    assert "Beta Logistics" in page.split("</form>", 1)[0]  # still offered in the filter
    assert "Beta Logistics" not in page.split("</form>", 1)[1]


def test_it_ignores_an_unknown_period_and_customer(client_for, manager, desk):
    response = client_for(manager).get(
        reverse("console:dashboard"), {"weeks": "999", "organisation": "x"}
    )
    assert response.status_code == 200
    assert response.context["weeks"] == 12
    assert response.context["organisation_id"] is None


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.CONSULTANT, Role.DEVELOPER])
def test_it_refuses_staff_without_reports(client_for, role):
    user = staff(role, username=f"u-{role}")
    assert client_for(user).get(reverse("console:dashboard")).status_code == 403


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_it_serves_managers_and_administrators(client_for, role, desk):
    user = staff(role, username=f"u-{role}")
    assert client_for(user).get(reverse("console:dashboard")).status_code == 200


def test_it_refuses_customers(client_for, coordinator, desk):
    assert client_for(coordinator).get(reverse("console:dashboard")).status_code in (302, 403)


def test_it_sends_visitors_to_sign_in(client):
    response = client.get(reverse("console:dashboard"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_nav_link_only_for_people_with_reports(client_for, manager, operator):
    link = f'href="{reverse("console:dashboard")}"'
    assert link in client_for(manager).get(reverse("console:queue")).content.decode()
    assert link not in client_for(operator).get(reverse("console:queue")).content.decode()


def test_a_restricted_manager_sees_nothing_of_other_customers(client_for, manager, org, desk):
    """Hostile: Beta's request, its people, its agent and its clock must not leak."""
    from aftercare.tenancy.models import Organisation

    AgentRestriction.objects.create(user=manager, organisation=org)
    secret_org = Organisation.objects.create(
        name="Zeta Secret Holdings", code="zeta", time_zone="Europe/Paris"
    )
    spy = customer(secret_org, username="zeta-spy", first_name="Zorro", last_name="Hidden")
    secret_agent = staff(
        Role.OPERATOR, username="secret-agent", first_name="Xavier", last_name="Covert"
    )
    hidden = make(
        secret_org,
        spy,
        nz(2025, 1, 1),
        status="in_progress",
        priority=1,
        assignee=secret_agent,
    )
    hidden.subject = "Zeta confidential merger"
    hidden.save()
    clock(hidden, "running", deadline=nz(2025, 1, 2))
    manager.time_zone = "Pacific/Auckland"
    manager.save()
    c = client_for(manager)
    with time_machine.travel(NOW, tick=False):
        response = c.get(reverse("console:dashboard"), {"weeks": 4})
        tried = c.get(reverse("console:dashboard"), {"weeks": 4, "organisation": secret_org.pk})
    html = response.content.decode() + tried.content.decode()
    for secret in (
        "Zeta",
        "Beta Logistics",
        hidden.number,
        desk["g"].number,
        "Xavier",
        "Covert",
        "confidential",
    ):
        assert secret not in html
    board = response.context["board"]
    assert board.backlog == 3 and board.overdue == 1  # Alpha's own
    assert [w.created for w in board.weeks] == [1, 1, 1, 1]  # G (Beta) is gone
    assert [c.name for c in board.customers] == ["Alpha Foods"]
    assert [o.name for o in response.context["organisations"]] == ["Alpha Foods"]
    assert tried.context["board"].backlog == 3  # a foreign id is ignored, not honoured


def test_its_queries_do_not_grow_with_the_requests(
    client_for, manager, desk, org, owner, django_assert_max_num_queries
):
    c = client_for(manager)
    c.get(reverse("console:dashboard"))  # warm the session and the permission caches
    with django_assert_max_num_queries(16) as small:
        assert c.get(reverse("console:dashboard")).status_code == 200
    agents = [staff(Role.OPERATOR, username=f"op{i}") for i in range(25)]
    for i in range(60):
        t = make(
            org,
            owner,
            nz(2026, 11, 1 + i % 28),
            status="backlog" if i % 3 else "done",
            priority=1 + i % 4,
            resolved=None if i % 3 else nz(2026, 11, 29),
            assignee=agents[i % 25],
        )
        clock(t, "running", deadline=nz(2026, 11, 20))
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = c.get(reverse("console:dashboard"))
    assert len(response.context["board"].agents) == dash.MAX_AGENTS + 1  # + unassigned
