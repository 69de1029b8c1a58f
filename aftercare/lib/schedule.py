"""Periodic schedules from the environment, e.g. ``AFTERCARE_SLA_CHECK_CRON="*/5 * * * *"``."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from huey import crontab


def cron(expression: str, name: str = "schedule"):
    parts = expression.split()
    if len(parts) != 5:
        raise ImproperlyConfigured(
            f"{name} must have five fields (minute hour day month weekday), got {expression!r}"
        )
    minute, hour, day, month, weekday = parts
    try:
        return crontab(minute=minute, hour=hour, day=day, month=month, day_of_week=weekday)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc
