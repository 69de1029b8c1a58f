"""Wall-clock times typed into forms, read in the customer's time zone.

A ``datetime-local`` input sends no zone: the time a person types for a deployment, an
agreed deadline or a downtime is the customer's local time, not the server's.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from django.utils import timezone


def in_zone(value: datetime | None, zone: tzinfo) -> datetime | None:
    """``value``'s wall-clock reading as an aware moment in ``zone`` (None stays None)."""
    if value is None:
        return None
    if timezone.is_aware(value):
        value = value.replace(tzinfo=None)
    return timezone.make_aware(value, zone)
