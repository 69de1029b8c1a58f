"""Keyset ("seek") pagination: page N costs the same as page 1 at any table size.

Rows are ordered by (sort key, id) and a cursor carries the last row's pair; the next
page asks for rows strictly after it, which an index on (field, id) answers directly
instead of counting past an OFFSET.

The sort key may be a model field, a path through foreign keys (``organisation__name``)
or an annotation already on the queryset (a rank computed with ``Case``). The id is
always the tie-breaker, so the order is total and no row is skipped or shown twice when
many rows share a value. A nullable key puts its empty values last in both directions
(``NULLS LAST``), and the cursor knows whether it stands among them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Q, QuerySet

_VALUE = "keyset_value"


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


def _decode(cursor: str, kind: str):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if value is not None:
            if kind == "DateTimeField":
                value = datetime.fromisoformat(value)
            elif kind in _INTEGER_KINDS:
                value = int(value)
            elif not isinstance(value, str):
                return None
        return value, int(pk)
    except (ValueError, TypeError, json.JSONDecodeError):
        return None


_INTEGER_KINDS = {
    "AutoField",
    "BigAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "PositiveBigIntegerField",
}


def _describe(qs: QuerySet, field: str) -> tuple[str, bool]:
    """The key's internal type and whether it can be NULL (then it sorts last)."""
    annotation = qs.query.annotations.get(field)
    if annotation is not None:
        output = annotation.output_field
        return output.get_internal_type(), bool(getattr(output, "null", False))
    model, nullable = qs.model, False
    parts = field.split("__")
    for i, part in enumerate(parts):
        f = model._meta.get_field(part)
        nullable = nullable or bool(getattr(f, "null", False))
        if i < len(parts) - 1:
            model = f.related_model
    return f.get_internal_type(), nullable


def _after(field: str, value: Any, pk: int, desc: bool, nullable: bool, nulls_last: bool) -> Q:
    """Rows strictly after (value, pk) in the order (field, pk), both ``desc`` or not."""
    op = "lt" if desc else "gt"
    if value is None:
        # The cursor stands among the empty values: after it come the later empty ones,
        # and, when the empty values come first in this walk, every filled row.
        rest = Q(**{f"{field}__isnull": True}) & Q(**{f"pk__{op}": pk})
        return rest if nulls_last else rest | Q(**{f"{field}__isnull": False})
    # (f < v) OR (f = v AND pk < p), written as f <= v AND (f < v OR pk < p): the
    # leading range lets SQLite walk the (f, id) index instead of sorting every row.
    filled = Q(**{f"{field}__{op}e": value}) & (
        Q(**{f"{field}__{op}": value}) | Q(**{f"pk__{op}": pk})
    )
    if nullable and nulls_last:
        return filled | Q(**{f"{field}__isnull": True})
    return filled


def paginate(
    qs: QuerySet,
    field: str,
    *,
    descending: bool,
    size: int,
    after: str | None = None,
    before: str | None = None,
) -> Page:
    kind, nullable = _describe(qs, field)
    forward = before is None
    cursor = _decode(after, kind) if after else (_decode(before, kind) if before else None)
    # Walking backwards is walking forwards in the opposite order, then flipping the page;
    # the empty values, last when walking forwards, come first when walking back.
    desc = descending if forward else not descending
    nulls_last = forward
    if cursor is not None:
        value, pk = cursor
        qs = qs.filter(_after(field, value, pk, desc, nullable, nulls_last))
    key = F(field)
    if nullable:
        key_order = key.desc(nulls_last=True) if desc else key.asc(nulls_last=True)
        if not nulls_last:
            key_order = key.desc(nulls_first=True) if desc else key.asc(nulls_first=True)
    else:
        key_order = key.desc() if desc else key.asc()
    order = [key_order, "-pk" if desc else "pk"]
    if "__" in field and field not in qs.query.annotations:
        qs = qs.annotate(**{_VALUE: F(field)})
        attr = _VALUE
    else:
        attr = field
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
        _encode(getattr(last, attr), last.pk) if has_next else None,
        _encode(getattr(first, attr), first.pk) if has_prev else None,
    )
