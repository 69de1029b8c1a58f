"""Read-only maintenance mode: ask ``is_on()``, guard writes with ``check_writable()``.

The flag is a database row so every process sees it; each process caches it for
``AFTERCARE_MAINTENANCE_CACHE_SECONDS`` (2 s by default), so switching it on takes effect
everywhere within that time without a query per call. Writes are refused in layers:
the middleware refuses non-safe HTTP requests, the desk services and mail intake call
``check_writable()``, management commands that write derive from ``WritingCommand`` (one
clear message on stderr, exit status ``EXIT_MAINTENANCE``, before anything is read or
written), and background jobs that write run through ``run_job`` (or ask ``skip_job``):
they skip their run with a log line, never fail, and simply do the work on the first run
after ``off``.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.utils import timezone
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)

# Exit status of a command refused by maintenance mode: sysexits' EX_TEMPFAIL, "try again
# later" (what an MTA and most schedulers understand); the same as ``ingest-mail``'s.
EXIT_MAINTENANCE = 75
T = TypeVar("T")


class MaintenanceError(Exception):
    """A write was attempted while read-only maintenance mode is on."""

    def __init__(self, message: str = "") -> None:
        self.note = message
        text = _("Aftercare is in read-only maintenance mode; changes are not possible now.")
        if message:
            text = f"{text} {message}"
        super().__init__(text)


@dataclass(frozen=True)
class State:
    on: bool
    message: str = ""
    changed_at: datetime | None = None
    changed_by: str = ""


_lock = threading.Lock()
_cached: tuple[float, State] | None = None


def _read() -> State:
    from aftercare.ops.models import MaintenanceFlag

    row = MaintenanceFlag.objects.filter(pk=1).first()
    if row is None:
        return State(on=False)
    return State(row.is_on, row.message, row.changed_at, row.changed_by)


def state(*, fresh: bool = False) -> State:
    """The flag as this process sees it (at most a cache period old unless ``fresh``)."""
    global _cached
    now = time.monotonic()
    ttl = settings.AFTERCARE_MAINTENANCE_CACHE_SECONDS
    with _lock:
        cached = _cached
    if not fresh and cached is not None and now - cached[0] < ttl:
        return cached[1]
    value = _read()
    with _lock:
        _cached = (now, value)
    return value


def is_on() -> bool:
    return state().on


def forget() -> None:
    """Drop this process's cached flag (after switching it, and between tests)."""
    global _cached
    with _lock:
        _cached = None


def check_writable() -> None:
    """Raise ``MaintenanceError`` while maintenance mode is on."""
    current = state()
    if current.on:
        raise MaintenanceError(current.message)


def skip_job(name: str) -> bool:
    """For periodic jobs that write: True (and a log line) while maintenance mode is on."""
    if is_on():
        log.info("%s skipped: read-only maintenance mode is on", name)
        return True
    return False


def switch(on: bool, *, message: str | None = None, by: str = "") -> State:
    """Turn maintenance mode on or off (the one write allowed while it is on)."""
    from aftercare.ops.models import MaintenanceFlag

    row, _created = MaintenanceFlag.objects.get_or_create(pk=1)
    row.is_on = on
    if message is not None:
        row.message = message[:500]
    row.changed_at = timezone.now()
    row.changed_by = by[:150]
    row.save()
    forget()
    log.warning("maintenance mode switched %s by %s", "on" if on else "off", by or "?")
    return state(fresh=True)


def refusal_text(message: str = "") -> str:
    """The one line a refused command prints: what is going on and that nothing changed."""
    note = (message or "").strip().rstrip(".")
    head = "Aftercare is in maintenance (read-only) mode"
    return f"{head}: {note}. Nothing was changed." if note else f"{head}. Nothing was changed."


class MaintenanceRefused(CommandError):
    """A command that writes was started while maintenance mode is on (exit 75)."""

    def __init__(self, message: str = "") -> None:
        self.note = message
        super().__init__(refusal_text(message), returncode=EXIT_MAINTENANCE)


def refuse_writes(what: str = "") -> None:
    """For commands: raise ``MaintenanceRefused`` while maintenance mode is on.

    Reads the flag fresh (a command is a one-off; it must not act on a stale cache).
    """
    current = state(fresh=True)
    if current.on:  # no log line: the refusal itself is the one line on stderr
        raise MaintenanceRefused(current.message)


class WritingCommand(BaseCommand):
    """Base class of every management command that writes.

    While maintenance mode is on the command is refused before its ``handle`` runs:
    ``MaintenanceRefused`` (a ``CommandError``) for ``call_command``; from the command line
    just ``refusal_text`` on stderr, no traceback, exit status ``EXIT_MAINTENANCE``. A command whose ``--dry-run`` writes nothing sets
    ``dry_run_in_maintenance = True`` to let dry runs through. A ``MaintenanceError`` that
    a service raises anyway (the mode switched on while the command ran) becomes the same
    refusal.
    """

    dry_run_in_maintenance = False

    def allowed_in_maintenance(self, options: dict) -> bool:
        return self.dry_run_in_maintenance and bool(options.get("dry_run"))

    def execute(self, *args, **options):
        try:
            if not self.allowed_in_maintenance(options):
                refuse_writes(self._command_name())
            try:
                return super().execute(*args, **options)
            except MaintenanceError as exc:
                raise MaintenanceRefused(exc.note) from exc
        except MaintenanceRefused as exc:
            if not getattr(self, "_called_from_command_line", False) or options.get("traceback"):
                raise  # call_command: the caller gets the CommandError
            # From the command line: the message alone (not "CommandError: …"), no traceback.
            OutputWrapper(options.get("stderr") or sys.stderr).write(str(exc))
            sys.exit(exc.returncode)

    def _command_name(self) -> str:
        return type(self).__module__.rsplit(".", 1)[-1].replace("_", "-")


def run_job(name: str, work: Callable[[], T], nothing: T) -> T:
    """Run a background job that writes, or skip it while maintenance mode is on.

    Skipped (and logged) when the mode is on at the start; if it is switched on while the
    job runs and a service refuses, the job stops with a log line and returns ``nothing``
    instead of failing (no failed-job record: the next run after ``off`` does the work).
    """
    if skip_job(name):
        return nothing
    try:
        return work()
    except MaintenanceError:
        log.info("%s stopped: read-only maintenance mode was switched on", name)
        return nothing
