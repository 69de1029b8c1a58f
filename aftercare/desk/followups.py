"""What a change owes others, done after its commit: an outbox in the change's transaction.

A service writes its rows and its ``Event``, and the receivers that must agree with the
change in the same transaction (the SLA clocks, ``desk.signals.ticket_changed``) run
there. Everything else a change causes — the receipt and status mails, in-app notices,
webhook rows, replies to chats, the search document (``desk.signals.ticket_followup``) —
is recorded as one ``Followup`` row in that transaction and expanded after the commit:

- ``AFTERCARE_FOLLOWUPS=worker`` (default): the commit enqueues ``expand_followups`` for
  the background worker, so a request holds the write lock only for its own rows;
- ``commit``: expanded by the same process right after the commit (no worker needed);
- ``inline``: the receivers run in the change's transaction, as before (the test suite).

Exactly once: each row is expanded in one transaction that also deletes it, so a crash
before that commit leaves the row for the next run, and a crash after it leaves nothing
to repeat. That transaction is short: the receivers read and render first, outside it, and
hand what they will write to ``write()``; the transaction then runs those writes and
deletes the row (on SQLite a transaction holds the database's only write lock, and the
web requests must not wait while a mail is rendered). The receivers' own keys (mail and notice keys, webhook and chat delivery keys)
refuse a second copy should two workers ever expand the same row. A row whose receivers
fail is kept and retried with a growing pause; the periodic sweep
(``AFTERCARE_FOLLOWUPS_CRON``) picks up what a lost enqueue or a crash left behind.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from aftercare.desk.models import Event, Followup, Ticket
from aftercare.desk.signals import ticket_followup
from aftercare.lib import faults

log = logging.getLogger(__name__)

BATCH = 100
PERMSETS_FOR = 1.0  # seconds
MAX_BACKOFF = timedelta(hours=1)


# While a follow-up is expanded: the writes its receivers hand over (see ``write``).
_writes: ContextVar[list[Callable[[], object]] | None] = ContextVar("followup_writes", default=None)


def write(fn: Callable[[], object]) -> None:
    """A receiver's writes: run now, or, while a follow-up is being expanded, in the
    expansion's short write transaction once every receiver has read and rendered.

    A receiver does its reading and rendering first and passes the rest here, e.g.
    ``write(lambda: row.save())``; outside an expansion (``inline`` mode, other callers)
    ``fn`` runs at once, in the caller's transaction."""
    pending_writes = _writes.get()
    if pending_writes is None:
        fn()
    else:
        pending_writes.append(fn)


def mode() -> str:
    return getattr(settings, "AFTERCARE_FOLLOWUPS", "worker")


def announce(ticket: Ticket, event: Event, context: dict | None = None) -> None:
    """Tell the receivers of a change just recorded as ``event``: those that keep step in
    this transaction now (``ticket_changed``), the others after the commit (``record``)."""
    from aftercare.desk.signals import ticket_changed

    ticket_changed.send(sender=Ticket, ticket=ticket, event=event, **(context or {}))
    record(ticket, event, context)


def record(ticket: Ticket, event: Event, context: dict | None = None) -> None:
    """Called by the service after its ``Event``, inside its transaction."""
    context = context or {}
    if mode() == "inline":
        ticket_followup.send(sender=Ticket, ticket=ticket, event=event, **context)
        return
    if not ticket_followup.has_listeners(Ticket):
        return
    Followup.objects.create(event=event, context=_dump(context), created_at=event.created_at)
    connection = transaction.get_connection()
    if not any(func is _after_commit for _sids, func, _robust in connection.run_on_commit):
        transaction.on_commit(_after_commit)


def _after_commit() -> None:
    faults.point("desk.followups.after_commit")  # docs/faults.md
    if mode() == "commit":
        try:
            expand()
        except Exception:  # the change is committed; the sweep expands it later
            log.exception("expanding follow-ups after the commit failed")
        return
    try:
        from aftercare.desk.tasks import expand_followups

        expand_followups()
    except Exception:  # e.g. the queue is away: the periodic sweep expands it later
        log.warning("could not enqueue the follow-up job", exc_info=True)


def _dump(context: dict) -> dict:
    out = {}
    for name, value in context.items():
        if isinstance(value, models.Model):
            out[name] = [value._meta.label_lower, value.pk]
        elif value is None or isinstance(value, (str, int, float, bool)):
            out[name] = value
        else:
            raise TypeError(f"follow-up context {name!r}: a model instance or a plain value")
    return out


def _load(context: dict) -> dict:
    out = {}
    for name, value in context.items():
        if isinstance(value, list) and len(value) == 2:
            model = apps.get_model(value[0])
            value = model._default_manager.filter(pk=value[1]).first()
        out[name] = value
    return out


def pending() -> models.QuerySet[Followup]:
    now = timezone.now()
    return Followup.objects.filter(Q(not_before__isnull=True) | Q(not_before__lte=now))


def expand(limit: int | None = None) -> dict[str, int]:
    """Expand the follow-ups that are due, oldest first, each in its own transaction.

    One short transaction per change, not one per batch: on SQLite a transaction holds
    the database's only write lock, and the web requests must not wait behind a batch of
    mails being rendered. Returns counts (``done``, ``failed``). Safe to run in several
    workers at once: on PostgreSQL a row is claimed with ``SKIP LOCKED``; on SQLite
    writers take turns, and a row already expanded by another is simply gone."""
    from aftercare.accounts.roles import shared_permsets

    counts = {"done": 0, "failed": 0}
    shared_since = None
    with scopes_disabled(), contextlib.ExitStack() as permsets:
        while limit is None or counts["done"] + counts["failed"] < limit:
            size = BATCH if limit is None else min(BATCH, limit - counts["done"] - counts["failed"])
            ids = list(pending().order_by("pk").values_list("pk", flat=True)[:size])
            for pk in ids:
                if shared_since is None or time.monotonic() - shared_since > PERMSETS_FOR:
                    # What the worker learnt of people's permissions serves the changes
                    # of the next second, then is asked again (a change made in this
                    # process forgets it at once: ``forget_permsets``).
                    permsets.close()
                    permsets.enter_context(shared_permsets())
                    shared_since = time.monotonic()
                outcome = _expand_one(pk)
                if outcome in counts:
                    counts[outcome] += 1
            if len(ids) < size:
                break
    return counts


def _expand_one(pk: int) -> str:
    """Expand one row: read and render outside any transaction, then claim the row and
    run the receivers' writes in one short transaction (``expand`` holds the shared
    permission sets)."""
    try:
        row = (
            pending()
            .select_related(
                "event__actor",
                "event__ticket__organisation",
                "event__ticket__reporter",
                "event__ticket__assignee",
            )
            .filter(pk=pk)
            .first()
        )
        if row is None:
            return "gone"  # expanded by another worker meanwhile
        # Read and render outside any transaction: no lock is held here.
        writes: list[Callable[[], object]] = []
        token = _writes.set(writes)
        try:
            event = row.event
            ticket_followup.send(
                sender=Ticket, ticket=event.ticket, event=event, **_load(row.context)
            )
        finally:
            _writes.reset(token)
        with transaction.atomic():
            claimed = (
                pending()
                .select_for_update(skip_locked=True, of=("self",))
                .filter(pk=pk)
                .values_list("pk", flat=True)
                .first()
            )
            if claimed is None:
                return "gone"  # claimed by another worker while this one was rendering
            for fn in writes:
                fn()
            faults.point("desk.followups.expanded")  # docs/faults.md
            Followup.objects.filter(pk=pk).delete()
        return "done"
    except Exception as exc:  # noqa: BLE001 - kept and retried; logged with its trace
        log.exception("follow-up %s failed", pk)
        attempts = (
            Followup.objects.filter(pk=pk).values_list("attempts", flat=True).first() or 0
        ) + 1
        Followup.objects.filter(pk=pk).update(
            attempts=attempts,
            not_before=timezone.now()
            + min(timedelta(minutes=2 ** min(attempts - 1, 10)), MAX_BACKOFF),
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        return "failed"
