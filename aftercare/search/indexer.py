"""Writing the index: build a request's documents from its rows and store what changed.

Called inside the writer's transaction (``signals``), so the index commits or rolls back
with the change that caused it, and by ``search_reindex`` for a full rebuild. Reading
ignores the organisation scope: the writer has already checked who may change the request,
and the index serves every reader through ``query`` which applies their visibility.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator

from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from aftercare.accounts.models import User
from aftercare.desk.models import OPEN_STATUSES, Attachment, Message, Ticket
from aftercare.search.fold import index_text
from aftercare.search.models import SearchDocument

log = logging.getLogger(__name__)
PUBLIC = SearchDocument.Kind.PUBLIC
INTERNAL = SearchDocument.Kind.INTERNAL
# A mail thread can be long; the index keeps this much text per document.
MAX_TEXT = 100_000
BATCH = 500
_CONTENT = ("number", "subject", "body", "names", "raw_body", "raw_names", "scope")


def reporter_line(user: User | None) -> str:
    """The reporter as the index names them (display name and address)."""
    if user is None:
        return ""
    parts = [user.display_name]
    if user.email and user.email != user.display_name:
        parts.append(user.email)
    return " · ".join(parts)


def scope_token(organisation_id: int) -> str:
    return f"o{organisation_id}"


def number_text(number: str) -> str:
    """``AC-2026-000123`` is found as typed, and as "123" (the queue's short form)."""
    words = index_text(number)
    tail = words.rsplit(" ", 1)[-1]
    if tail.isdigit() and str(int(tail)) != tail:
        words = f"{words} {int(tail)}"
    return words


def _join(parts: Iterable[str]) -> str:
    return "\n\n".join(p for p in parts if p and p.strip())[:MAX_TEXT]


def build(tickets: list[Ticket]) -> list[SearchDocument]:
    """The documents of ``tickets`` (two queries for all their messages and files)."""
    ids = [t.pk for t in tickets]
    bodies: dict[tuple[int, str], list[str]] = defaultdict(list)
    for ticket_id, kind, body in (
        Message.objects.filter(ticket_id__in=ids)
        .order_by("ticket_id", "created_at", "pk")
        .values_list("ticket_id", "kind", "body")
    ):
        bodies[(ticket_id, INTERNAL if kind == Message.Kind.INTERNAL else PUBLIC)].append(body)
    files: dict[tuple[int, str], list[str]] = defaultdict(list)
    for ticket_id, internal, name in (
        Attachment.objects.filter(ticket_id__in=ids)
        .order_by("ticket_id", "pk")
        .values_list("ticket_id", "is_internal", "name")
    ):
        files[(ticket_id, INTERNAL if internal else PUBLIC)].append(name)
    docs = []
    now = timezone.now()
    for t in tickets:
        # The first message repeats the description; index each text once.
        public = [t.description, t.conditions]
        public += [b for b in bodies[(t.pk, PUBLIC)] if b not in public]
        raw_body = _join(public)
        raw_names = "\n".join(
            [reporter_line(t.reporter), t.organisation.name, *files[(t.pk, PUBLIC)]]
        )
        docs.append(
            SearchDocument(
                ticket_id=t.pk,
                organisation_id=t.organisation_id,
                kind=PUBLIC,
                number=number_text(t.number),
                subject=index_text(t.subject),
                body=index_text(raw_body),
                names=index_text(raw_names),
                raw_body=raw_body,
                raw_names=raw_names,
                scope=scope_token(t.organisation_id),
                is_open=t.status in OPEN_STATUSES,
                updated_at=now,
            )
        )
        notes = _join(bodies[(t.pk, INTERNAL)])
        internal_files = "\n".join(files[(t.pk, INTERNAL)])
        if notes or internal_files:
            docs.append(
                SearchDocument(
                    ticket_id=t.pk,
                    organisation_id=t.organisation_id,
                    kind=INTERNAL,
                    body=index_text(notes),
                    names=index_text(internal_files),
                    raw_body=notes,
                    raw_names=internal_files,
                    scope=scope_token(t.organisation_id),
                    is_open=t.status in OPEN_STATUSES,
                    updated_at=now,
                )
            )
    return docs


def _tickets(ids: Iterable[int]) -> list[Ticket]:
    return list(
        Ticket.objects.filter(pk__in=list(ids))
        .select_related("reporter", "organisation")
        .only(
            "number",
            "status",
            "subject",
            "description",
            "conditions",
            "organisation_id",
            "organisation__name",
            "reporter__username",
            "reporter__first_name",
            "reporter__last_name",
            "reporter__email",
        )
    )


def index_tickets(ids: Iterable[int]) -> int:
    """Bring the documents of these requests up to date; returns how many were written.

    Unchanged documents are not rewritten (an FTS or GIN update is the costly part). This
    is the repair path (long lists, ``search_reindex NUMBER…``): it also sets ``is_open``
    from each request's status as read when the documents are built.
    """
    ids = list(dict.fromkeys(ids))
    written = 0
    with scopes_disabled():
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            written += _store(chunk, _wanted(chunk), with_open=True)
    return written


def _wanted(chunk: list[int]) -> dict[tuple[int, str], SearchDocument]:
    return {(d.ticket_id, d.kind): d for d in build(_tickets(chunk))}


def _store(
    chunk: list[int], wanted: dict[tuple[int, str], SearchDocument], *, with_open: bool = False
) -> int:
    """Write what differs. A follow-up's rebuild (built before its transaction) leaves an
    existing document's ``is_open`` alone: a transition in between has set it under the
    request's lock (``signals._status_changed``), and the status read at build time may be
    older. A new document takes the status it was built with."""
    written = 0
    content = (*_CONTENT, "is_open") if with_open else _CONTENT
    existing = {
        (d.ticket_id, d.kind): d
        for d in SearchDocument.objects.filter(ticket_id__in=chunk).only(
            "ticket_id", "kind", *content
        )
    }
    stale = [d.pk for key, d in existing.items() if key not in wanted]
    if stale:
        SearchDocument.objects.filter(pk__in=stale).delete()
        written += len(stale)
    for key, doc in wanted.items():
        old = existing.get(key)
        if old is None:
            doc.save()
            written += 1
        elif any(getattr(old, f) != getattr(doc, f) for f in content):
            SearchDocument.objects.filter(pk=old.pk).update(
                organisation_id=doc.organisation_id,
                updated_at=doc.updated_at,
                **{f: getattr(doc, f) for f in content},
            )
            written += 1
    return written


def index_quietly(ids: Iterable[int]) -> None:
    """``index_tickets`` for writers: a failing index never undoes the user's change.

    The savepoint keeps a PostgreSQL transaction usable after an index error; the next
    write of the request (or ``search_reindex``) repairs its documents. A few requests
    (a change's follow-up) are built first and written through ``followups.write``, so an
    expansion writes them in its short transaction; a long list is done batch by batch.
    """
    from aftercare.desk.followups import write

    ids = list(dict.fromkeys(ids))
    if len(ids) > BATCH:
        _quietly(lambda: index_tickets(ids), ids)
        return
    try:
        # Reads only: outside a transaction they need no savepoint (on SQLite a
        # transaction would take the write lock); inside one, a savepoint keeps a
        # PostgreSQL transaction usable after an error.
        guard = (
            transaction.atomic()
            if transaction.get_connection().in_atomic_block
            else contextlib.nullcontext()
        )
        with guard, scopes_disabled():
            wanted = _wanted(ids)
    except Exception:  # noqa: BLE001 - logged; the change itself must go through
        log.exception("search: indexing requests %s failed", ids[:10])
        return

    def save() -> None:
        with scopes_disabled():
            _quietly(lambda: _store(ids, wanted), ids)

    write(save)


def _quietly(fn, ids: list[int]) -> None:
    # A savepoint keeps an enclosing transaction usable after an error.
    try:
        with transaction.atomic():
            fn()
    except Exception:  # noqa: BLE001 - logged; the change itself must go through
        log.exception("search: indexing requests %s failed", ids[:10])


def _all_ids() -> Iterator[list[int]]:
    last = 0
    while True:
        with scopes_disabled():
            chunk = list(
                Ticket.objects.filter(pk__gt=last)
                .order_by("pk")
                .values_list("pk", flat=True)[:BATCH]
            )
        if not chunk:
            return
        yield chunk
        last = chunk[-1]


def rebuild(*, progress=None) -> int:
    """Drop and rebuild the whole index, one transaction per batch of requests."""
    from aftercare.search import backend

    with transaction.atomic():
        SearchDocument.objects.all().delete()
        backend.clear()
    total = 0
    with scopes_disabled():
        for chunk in _all_ids():
            with transaction.atomic():
                docs = build(_tickets(chunk))
                SearchDocument.objects.bulk_create(docs)
            total += len(chunk)
            if progress:
                progress(total)
    backend.optimise()
    return total
