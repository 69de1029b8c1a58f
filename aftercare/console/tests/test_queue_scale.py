"""Issue 17 (a million requests): the queue's L1 order pages by (priority, created_at, id)
through a partial index of the open requests, and the board makes its per-card parts
once per column."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from aftercare.console.views.queue import KEYSET_COLUMNS
from aftercare.desk import workflow
from aftercare.desk.models import OPEN_STATUSES, Priority, Status, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.lib.keyset import paginate

pytestmark = pytest.mark.django_db


def _set(ticket: Ticket, **fields) -> Ticket:
    Ticket.objects.filter(pk=ticket.pk).update(**fields)
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def ties(owner, org):
    """Seven open requests, several with the same priority and the same arrival instant
    (an import), so only the id separates them; one closed request."""
    at = timezone.now() - timedelta(hours=3)
    plan = [  # (priority, minutes after ``at``)
        (Priority.NORMAL, 0),
        (Priority.HIGH, 5),
        (Priority.NORMAL, 0),
        (Priority.NORMAL, 0),
        (Priority.HIGH, 5),
        (Priority.CRITICAL, 9),
        (Priority.NORMAL, 1),
    ]
    tickets = [
        _set(ticket_for(owner, org), priority=p, created_at=at + timedelta(minutes=m))
        for p, m in plan
    ]
    _set(ticket_for(owner, org), status=Status.ARCHIVED, priority=Priority.CRITICAL)
    return tickets


def _expected(tickets: list[Ticket]) -> list[int]:
    return [t.pk for t in sorted(tickets, key=lambda t: (t.priority, t.created_at, t.pk))]


def test_composite_keyset_walks_ties_forward_and_back_by_id(ties):
    qs = Ticket.objects.filter(status__in=OPEN_STATUSES)
    fields = KEYSET_COLUMNS["priority_arrival"]
    pages, after = [], None
    while True:
        page = paginate(qs, fields, descending=False, size=2, after=after)
        pages.append(page)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert [t.pk for p in pages for t in p.rows] == _expected(ties)
    assert pages[0].prev_cursor is None
    # Back from the last page: the pages again, in the same order, none skipped.
    back, before = [], pages[-1].prev_cursor
    while before is not None:
        page = paginate(qs, fields, descending=False, size=2, before=before)
        back.insert(0, page)
        before = page.prev_cursor
    assert [t.pk for p in back for t in p.rows] == _expected(ties)[: -len(pages[-1].rows)]
    # Descending is the exact reverse.
    down = paginate(qs, fields, descending=True, size=10)
    assert [t.pk for t in down.rows] == _expected(ties)[::-1]


def test_a_forged_or_old_cursor_opens_the_first_page(ties):
    qs = Ticket.objects.filter(status__in=OPEN_STATUSES)
    fields = KEYSET_COLUMNS["priority_arrival"]
    first = paginate(qs, fields, descending=False, size=3)
    old = base64.urlsafe_b64encode(json.dumps(["3 2026-01-01 10:00:00", 5]).encode()).decode()
    for cursor in (old, "not-a-cursor", first.next_cursor[:-3] + "xyz"):
        page = paginate(qs, fields, descending=False, size=3, after=cursor)
        assert [t.pk for t in page.rows] == [t.pk for t in first.rows]


def test_a_nullable_column_is_refused_as_a_composite_key(ties):
    with pytest.raises(ValueError, match="NULL"):
        paginate(Ticket.objects.all(), ("priority", "sla_due_at"), descending=False, size=2)


def test_the_operators_queue_pages_by_the_columns(client_for, operator, ties, settings):
    settings.AFTERCARE_QUEUE_PAGE_SIZE = 3
    client = client_for(operator)
    seen, params = [], {}
    for _ in range(5):
        page = client.get(reverse("console:queue"), params).context["page"]
        seen += [t.pk for t in page.rows]
        if page.next_cursor is None:
            break
        params = {"after": page.next_cursor}
    assert seen == _expected(ties)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_the_open_queue_in_l1_order_walks_the_partial_index(ties):
    qs = (
        Ticket.objects.filter(status__in=OPEN_STATUSES)
        .order_by("priority", "created_at", "pk")
        .only("pk")[:50]
    )
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        # Tiny tables: take the planner's cheap alternatives away, leaving the index
        # that both matches the open set and gives the order.
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("SET LOCAL enable_bitmapscan = off")
        cur.execute("SET LOCAL enable_sort = off")
        cur.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert "ticket_open_arrival" in plan, plan


def test_board_cards_link_and_move_as_the_url_names_say(client_for, operator, ties):
    response = client_for(operator).get(reverse("console:board"))
    html = response.content.decode()
    backlog = next(c for c in response.context["columns"] if c["status"] == Status.BACKLOG)
    assert backlog["cards"]
    for card in backlog["cards"]:
        assert f'href="{reverse("console:ticket", args=[card.number])}"' in html
        assert f'action="{reverse("console:ticket-move", args=[card.number])}"' in html
    rules = workflow.allowed_transitions(Status.BACKLOG, response.wsgi_request.permset.staff_roles)
    options = "".join(f'<option value="{r.target}">{r.label}</option>' for r in rules)
    assert f'<select name="target" aria-label="Move to">{options}</select>' in html
    assert 'name="next_url" value="/console/board/"' in html


def test_a_board_card_shows_its_request_escaped_with_its_badge_and_people(
    client_for, operator, owner, org
):
    subject = "<script>alert(1)</script> " + "x" * 120
    ticket = ticket_for(owner, org, subject=subject)
    due = timezone.now() - timedelta(hours=2)
    _set(ticket, assignee=operator, sla_state="running", sla_due_at=due, status=Status.SPRINT)
    response = client_for(operator).get(reverse("console:board"))
    html = response.content.decode()
    start = html.index(f'data-ticket="{ticket.number}"')
    card = html[start : html.index("</article>", start)]
    assert "<script>" not in card and "&lt;script&gt;alert(1)&lt;/script&gt; xxx" in card
    assert "x" * 70 not in card and "…</div>" in card  # cut at 90 characters
    assert '<span class="badge sla-breached" title="' in card and ">overdue 2h 0m</span>" in card
    assert f"{org.name} · {operator.display_name} · L{ticket.level}</div>" in card
    assert f'<input type="hidden" name="version" value="{ticket.version}">' in card
    # The move form offers the column's moves, and asks for a reason when one needs it.
    roles = response.wsgi_request.permset.staff_roles
    rules = workflow.allowed_transitions(Status.SPRINT, roles)
    assert rules and all(f'<option value="{r.target}">' in card for r in rules)
    assert ('name="reason"' in card) == any(r.reason_required for r in rules)


def test_a_queue_row_shows_its_request_escaped_with_its_labels(client_for, operator, owner, org):
    ticket = ticket_for(owner, org, subject="<b>Bold</b> & co")
    _set(ticket, priority=Priority.HIGH)
    html = client_for(operator).get(reverse("console:queue"), {"sort": "-updated"}).content.decode()
    url = reverse("console:ticket", args=[ticket.number])
    start = html.index(f'<tr data-href="{url}">')
    row = html[start : html.index("</tr>", start)]
    assert f'aria-label="Select {ticket.number}"' in row
    assert f'<td class="col-subject"><a href="{url}">&lt;b&gt;Bold&lt;/b&gt; &amp; co</a>' in row
    assert '<span class="badge pr-2">High</span>' in row
    assert f'<span class="badge st-{ticket.status}">{ticket.get_status_display()}</span>' in row
    assert '<td class="col-assignee"><span class="muted">—</span></td>' in row
    assert f'<td class="col-organisation">{org.name}</td>' in row
    assert 'class="col-updated small" title="' in row
