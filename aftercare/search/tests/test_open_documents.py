"""``SearchDocument.is_open``: the queue's text filter over the open requests reads only
their documents (on PostgreSQL a partial GIN index), so the flag must follow every opening
and closing of a request, and never hide an open request. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aftercare.accounts.roles import PermSet
from aftercare.desk import services
from aftercare.desk.models import Status, Ticket
from aftercare.desk.tests.factories import ticket_for, to_released
from aftercare.search.indexer import index_quietly, index_tickets
from aftercare.search.models import SearchDocument
from aftercare.search.query import ticket_filter

pytestmark = pytest.mark.django_db


def flags(ticket: Ticket) -> dict[str, bool]:
    return dict(
        SearchDocument.objects.filter(ticket=ticket).values_list("kind", "is_open").order_by("kind")
    )


def test_a_new_requests_documents_are_open(owner, org, operator):
    ticket = ticket_for(owner, org, subject="Kestrel invoice")
    services.reply(ticket=ticket, actor=operator, body="kestrel note", internal=True)
    assert flags(ticket) == {"internal": True, "public": True}


def test_closing_and_reopening_turns_the_flag_in_the_same_transaction(
    owner, org, consultant, operator
):
    ticket = ticket_for(owner, org, subject="Kestrel invoice")
    services.reply(ticket=ticket, actor=operator, body="kestrel note", internal=True)
    to_released(ticket, consultant)  # Done is open, Released is not
    assert flags(ticket) == {"internal": False, "public": False}
    services.transition(ticket=ticket, actor=owner, target=Status.IN_PROGRESS, reason="Still fails")
    assert flags(ticket) == {"internal": True, "public": True}
    rejected = ticket_for(owner, org, subject="Kestrel duplicate")
    services.transition(ticket=rejected, actor=operator, target=Status.REJECTED, reason="Dup")
    assert flags(rejected) == {"public": False}


def test_a_move_between_two_open_statuses_writes_no_document(owner, org, operator):
    ticket = ticket_for(owner, org, subject="Kestrel invoice")
    with CaptureQueriesContext(connection) as ctx:
        services.transition(ticket=ticket, actor=operator, target=Status.SPRINT)
    writes = [q["sql"] for q in ctx.captured_queries if "search_document" in q["sql"]]
    assert not [sql for sql in writes if sql.startswith("UPDATE")]
    assert flags(ticket) == {"public": True}


def test_the_queue_finds_a_reopened_request_and_not_a_closed_one(
    owner, org, consultant, operator, client_for
):
    reopened = to_released(ticket_for(owner, org, subject="Kestrel invoice one"), consultant)
    closed = to_released(ticket_for(owner, org, subject="Kestrel invoice two"), consultant)
    services.transition(ticket=reopened, actor=owner, target=Status.IN_PROGRESS, reason="No")
    client = client_for(operator)
    body = client.get("/console/", {"q": "kestrel"}).content.decode()
    assert reopened.number in body and closed.number not in body
    body = client.get("/console/", {"q": "kestrel", "status": "all"}).content.decode()
    assert reopened.number in body and closed.number in body
    body = client.get("/console/", {"q": "kestrel", "status": "released"}).content.decode()
    assert closed.number in body and reopened.number not in body
    body = client.get("/console/", {"q": "kestrel", "status": "in_progress"}).content.decode()
    assert reopened.number in body and closed.number not in body


def test_a_wrong_open_flag_never_shows_a_closed_request(owner, org, consultant, operator):
    """The flag narrows what is read; the request's own status still decides."""
    closed = to_released(ticket_for(owner, org, subject="Kestrel invoice"), consultant)
    SearchDocument.objects.filter(ticket=closed).update(is_open=True)
    open_requests = Ticket.objects.filter(status__in=("backlog", "sprint", "in_progress"))
    kept = open_requests.filter(ticket_filter(PermSet(operator), "kestrel", open_only=True))
    assert list(kept) == []


def test_a_follow_ups_rebuild_leaves_the_flag_and_the_repair_path_sets_it(owner, org, consultant):
    ticket = to_released(ticket_for(owner, org, subject="Kestrel invoice"), consultant)
    SearchDocument.objects.filter(ticket=ticket).update(is_open=True, subject="stale")
    # A follow-up (built from the status it read, maybe before a transition): text only.
    index_quietly([ticket.pk])
    assert flags(ticket) == {"public": True}
    assert SearchDocument.objects.get(ticket=ticket).subject != "stale"
    # ``search_reindex NUMBER`` (``index_tickets``) sets the flag from the status.
    index_tickets([ticket.pk])
    assert flags(ticket) == {"public": False}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's partial index")
def test_the_open_filter_asks_what_the_open_documents_index_holds(owner, org, operator):
    """The planner picks the partial index at scale (docs/benchmarks.md, issue 17 fourth
    pass); here: it exists, holds what its predicate says, and the filter states it."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'search_document_open_vector'"
        )
        (definition,) = cur.fetchone()
    assert "USING gin (vector) WHERE is_open" in definition
    open_requests = Ticket.objects.filter(status__in=("backlog", "sprint", "in_progress"))
    qs = open_requests.filter(ticket_filter(PermSet(operator), "kestrel", open_only=True))
    assert "AND d.is_open" in str(qs.query)
    everything = Ticket.objects.filter(ticket_filter(PermSet(operator), "kestrel"))
    assert "is_open" not in str(everything.query)
