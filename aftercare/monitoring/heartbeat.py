"""Worker heartbeats: proof that a consumer is taking jobs off the queue.

A periodic task runs only when a consumer's scheduler enqueued it and a worker picked it
up, so a fresh row means the whole path (scheduler → queue storage → worker → database)
works. ``/readyz`` fails when the newest row is older than
``AFTERCARE_HEALTH_WORKER_STALE_SECONDS``.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from django.utils import timezone

from aftercare.monitoring.models import WorkerHeartbeat

FORGET_AFTER = timedelta(days=1)


def worker_name() -> str:
    return f"{socket.gethostname()}/{os.getpid()}"[:255]


def beat(now: datetime | None = None) -> str:
    """Record that this process is alive; forget workers gone for a day."""
    now = now or timezone.now()
    name = worker_name()
    WorkerHeartbeat.objects.update_or_create(worker=name, defaults={"seen_at": now})
    WorkerHeartbeat.objects.filter(seen_at__lt=now - FORGET_AFTER).delete()
    return name
