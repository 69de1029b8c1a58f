"""Human-readable request numbers, e.g. ``AC-2026-000123``.

The counter row is incremented with a single ``UPDATE … SET last = last + 1`` inside the
caller's transaction: on PostgreSQL the row lock is held until the ticket is committed, on
SQLite the IMMEDIATE transaction holds the database write lock. Either way two creators
can never read the same value, and a rolled-back ticket gives its number back.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from aftercare.desk.models import TicketSequence


def format_number(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:06d}"


def allocate_number(at: datetime | None = None) -> str:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("allocate_number() must run inside the ticket's transaction")
    prefix = settings.AFTERCARE_TICKET_PREFIX
    year = timezone.localtime(at or timezone.now()).year
    value = _next_returning(prefix, year)
    if value is not None:
        return format_number(prefix, year, value)
    rows = TicketSequence.objects.filter(prefix=prefix, year=year)
    if not rows.update(last=F("last") + 1):
        try:
            with transaction.atomic():
                TicketSequence.objects.create(prefix=prefix, year=year, last=1)
            return format_number(prefix, year, 1)
        except IntegrityError:
            # Another creator made the row first; it is there now, so count on it.
            rows.update(last=F("last") + 1)
    return format_number(prefix, year, rows.values_list("last", flat=True).get())


def _next_returning(prefix: str, year: int) -> int | None:
    """The increment and the read in one statement (``UPDATE … RETURNING``, PostgreSQL and
    SQLite ≥ 3.35); ``None`` when there is no row yet or the database cannot."""
    connection = transaction.get_connection()
    if connection.vendor == "sqlite":
        if connection.Database.sqlite_version_info < (3, 35):
            return None
    elif connection.vendor != "postgresql":
        return None
    table = connection.ops.quote_name(TicketSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last = last + 1 WHERE prefix = %s AND year = %s RETURNING last",  # noqa: S608 - the table name is the model's
            [prefix, year],
        )
        row = cursor.fetchone()
    return row[0] if row else None
