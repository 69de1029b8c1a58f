"""Read-only maintenance mode: ask ``is_on()``, guard writes with ``check_writable()``.

The flag is a database row so every process sees it; each process caches it for
``AFTERCARE_MAINTENANCE_CACHE_SECONDS`` (2 s by default), so switching it on takes effect
everywhere within that time without a query per call. Writes are refused in layers:
the middleware refuses non-safe HTTP requests, the desk services and mail intake call
``check_writable()`` (so commands and jobs are refused too), and periodic jobs that write
skip their run (``skip_job``) and simply do the work on the first run after ``off``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)


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
