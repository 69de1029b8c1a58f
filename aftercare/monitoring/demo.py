"""Demo data for ``make run``: a failed job on the failures page, a worker heartbeat."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from aftercare.monitoring.models import FailedJob


def load() -> None:
    """A job that failed overnight (retrying it runs the SLA check, which is harmless)."""
    FailedJob.objects.get_or_create(
        task_id="demo-failed-sla-check",
        defaults={
            "task_name": "aftercare.sla.tasks.sla_check_now",
            "error": "OperationalError: database is locked",
            "traceback": "Traceback (most recent call last):\n  …\n"
            "django.db.utils.OperationalError: database is locked\n",
            "request_id": "demo0000000000000000000000000001",
            "failed_at": timezone.now() - timedelta(hours=7),
        },
    )
