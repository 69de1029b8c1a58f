"""Keyset ("seek") pagination: page N costs the same as page 1 at any table size.

Rows are ordered by (sort field, id) and a cursor carries the last row's pair; the next
page asks for rows strictly after it, which an index on (field, id) answers directly
instead of counting past an OFFSET.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet


@dataclass
class Page:
    rows: list
    next_cursor: str | None
    prev_cursor: str | None


def _encode(value, pk: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, is_datetime: bool):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if is_datetime:
            value = datetime.fromisoformat(value)
        return value, int(pk)
    except (ValueError, TypeError, json.JSONDecodeError):
        return None


def paginate(
    qs: QuerySet,
    field: str,
    *,
    descending: bool,
    size: int,
    after: str | None = None,
    before: str | None = None,
) -> Page:
    is_dt = qs.model._meta.get_field(field).get_internal_type() == "DateTimeField"
    forward = before is None
    cursor = _decode(after, is_dt) if after else (_decode(before, is_dt) if before else None)
    # Walking backwards is walking forwards in the opposite order, then flipping the page.
    desc = descending if forward else not descending
    if cursor is not None:
        value, pk = cursor
        op = "lt" if desc else "gt"
        # (f < v) OR (f = v AND pk < p), written as f <= v AND (f < v OR pk < p): the
        # leading range lets SQLite walk the (f, id) index instead of sorting every row.
        qs = qs.filter(
            Q(**{f"{field}__{op}e": value})
            & (Q(**{f"{field}__{op}": value}) | Q(**{f"pk__{op}": pk}))
        )
    order = [f"-{field}", "-pk"] if desc else [field, "pk"]
    rows = list(qs.order_by(*order)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    if not rows:
        return Page(rows, None, None)
    first, last = rows[0], rows[-1]
    has_next = more if forward else cursor is not None
    has_prev = (cursor is not None) if forward else more
    return Page(
        rows,
        _encode(getattr(last, field), last.pk) if has_next else None,
        _encode(getattr(first, field), first.pk) if has_prev else None,
    )
