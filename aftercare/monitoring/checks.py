"""Readiness checks for ``/readyz``: each returns a status, its latency and a message.

Statuses: ``ok``; ``degraded`` (the desk works, something needs a look: a mailbox that
has not been read for a while, failed mail); ``fail`` (a required part is down: the
database, the cache, the queue storage, or no worker has taken a job for minutes).
The overall status is the worst one; ``fail`` answers HTTP 503.

Messages name no host, port, user or password (the endpoint needs no sign-in): database
errors say only their class; the details go to the log. They are in English on purpose:
monitoring systems match on them, people read the console.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connections, transaction
from django.utils import timezone

log = logging.getLogger(__name__)

OK, DEGRADED, FAIL = "ok", "degraded", "fail"
_RANK = {OK: 0, DEGRADED: 1, FAIL: 2}


@dataclass
class Check:
    name: str
    status: str = OK
    message: str = ""
    latency_ms: float = 0.0
    required: bool = True
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("name")
        if not data["detail"]:
            data.pop("detail")
        return data


def _timed(name: str, required: bool, fn: Callable[[Check], None]) -> Check:
    check = Check(name, required=required)
    started = time.monotonic()
    try:
        fn(check)
    except Exception as exc:  # noqa: BLE001 - a probe reports failures, it never raises
        # One line per failed check (probes poll often); the traceback only at DEBUG.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        log.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, first)
        log.debug("readiness check %s failed", name, exc_info=True)
        check.status = FAIL if required else DEGRADED
        check.message = f"unavailable ({type(exc).__name__})"
    check.latency_ms = round((time.monotonic() - started) * 1000, 1)
    return check


# -- the checks ---------------------------------------------------------------------------


def database(check: Check, alias: str = "default") -> None:
    conn = connections[alias]
    if conn.vendor == "postgresql":
        # ``set_config(…, true)`` lasts for this short transaction only: a hung server
        # cannot hold the probe, and the connection keeps its own settings afterwards.
        timeout_ms = str(settings.AFTERCARE_HEALTH_DB_TIMEOUT_MS)
        with transaction.atomic(using=alias), conn.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [timeout_ms])
            cursor.execute("SELECT 1")
            cursor.fetchone()
    else:
        # No transaction on SQLite: ours begin IMMEDIATE and would queue behind writers.
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    check.message = "reachable"


def cache_check(check: Check) -> None:
    key = f"aftercare:readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", 30)
    found = cache.get(key)
    cache.delete(key)
    if found != "1":
        check.status, check.message = FAIL, "a value written was not read back"
    else:
        check.message = "reachable"


def queue(check: Check) -> None:
    from huey.contrib.djhuey import HUEY

    waiting = HUEY.storage.queue_size()
    check.detail = {"waiting": waiting, "backend": type(HUEY.storage).__name__}
    check.message = f"reachable, {waiting} job(s) waiting"


def workers(check: Check) -> None:
    from aftercare.monitoring.models import WorkerHeartbeat

    stale = settings.AFTERCARE_HEALTH_WORKER_STALE_SECONDS
    if not stale:
        check.message = "not checked (AFTERCARE_HEALTH_WORKER_STALE_SECONDS=0)"
        return
    now = timezone.now()
    alive = WorkerHeartbeat.objects.filter(seen_at__gte=now - timedelta(seconds=stale)).count()
    newest = WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
    age = int((now - newest).total_seconds()) if newest else None
    check.detail = {"alive": alive, "last_beat_seconds_ago": age}
    if alive:
        check.message = f"{alive} worker(s) alive"
    elif newest is None:
        check.status, check.message = FAIL, "no worker has reported yet"
    else:
        check.status, check.message = FAIL, f"no worker heartbeat for {age} s"


def mailboxes(check: Check) -> None:
    from aftercare.mail.models import Mailbox

    stale_minutes = settings.AFTERCARE_HEALTH_MAILBOX_STALE_MINUTES
    now = timezone.now()
    rows = []
    late = []
    for name, last in Mailbox.objects.filter(is_active=True).values_list("name", "last_success_at"):
        age = int((now - last).total_seconds()) if last else None
        is_late = bool(stale_minutes) and (age is None or age > stale_minutes * 60)
        rows.append(
            {
                "name": name,
                "last_success_at": last.isoformat() if last else None,
                "age_seconds": age,
                "status": DEGRADED if is_late else OK,
            }
        )
        if is_late:
            late.append(name)
    check.detail = {"mailboxes": rows}
    if late:
        check.status = DEGRADED
        names = ", ".join(late)
        check.message = f"not read successfully for over {stale_minutes} min: {names}"
    else:
        check.message = f"{len(rows)} active mailbox(es) read"


def backlog(check: Check) -> None:
    """Outgoing mail waiting and everything that failed for good."""
    from aftercare.mail.models import InboundMessage, OutboundMail
    from aftercare.monitoring.models import FailedJob
    from aftercare.webhooks.models import Delivery

    now = timezone.now()
    due = OutboundMail.objects.filter(state=OutboundMail.State.QUEUED, not_before__lte=now)
    oldest = due.order_by("not_before").values_list("not_before", flat=True).first()
    counts = {
        "outbox_pending": due.count(),
        "outbox_failed": OutboundMail.objects.filter(state=OutboundMail.State.FAILED).count(),
        "jobs_failed": FailedJob.objects.filter(resolved=False).count(),
        "webhooks_failed": Delivery.objects.filter(state=Delivery.State.FAILED).count(),
        "inbound_rejected": InboundMessage.objects.filter(
            outcome=InboundMessage.Outcome.REJECTED, resolved_at__isnull=True
        ).count(),
    }
    check.detail = counts
    problems = []
    stale = settings.AFTERCARE_HEALTH_OUTBOX_STALE_MINUTES
    if oldest and stale and now - oldest > timedelta(minutes=stale):
        problems.append(f"outgoing mail waiting for over {stale} min")
    failed = counts["outbox_failed"] + counts["jobs_failed"] + counts["webhooks_failed"]
    if failed:
        problems.append(f"{failed} failure(s) to look at")
    if problems:
        check.status, check.message = DEGRADED, "; ".join(problems)
    else:
        check.message = f"{counts['outbox_pending']} mail(s) pending"


# -- all of them ----------------------------------------------------------------------------


def run() -> dict:
    results = [
        _timed("database", True, database),
        _timed("cache", True, cache_check),
        _timed("queue", True, queue),
    ]
    needs_db = [("workers", True, workers), ("mailboxes", False, mailboxes)]
    needs_db.append(("backlog", False, backlog))
    if results[0].status == OK:
        results += [_timed(name, required, fn) for name, required, fn in needs_db]
    else:
        results += [
            Check(name, FAIL if required else DEGRADED, "not checked: no database", 0.0, required)
            for name, required, _fn in needs_db
        ]
    overall = max((c.status for c in results), key=_RANK.__getitem__)
    return {
        "status": overall,
        "time": timezone.now().isoformat(timespec="seconds"),
        "checks": {c.name: c.as_dict() for c in results},
    }
