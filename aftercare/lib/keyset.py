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
from collections.abc import Callable
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


def _convert(value, kind: str):
    """A cursor's value as the key's type; ``ValueError`` if it cannot be one."""
    if value is None:
        return None
    if kind == "DateTimeField":
        return datetime.fromisoformat(value)
    if kind in _INTEGER_KINDS:
        return int(value)
    if not isinstance(value, str):
        raise ValueError(value)
    return value


def _decode(cursor: str, kind: str):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return _convert(value, kind), int(pk)
    except (ValueError, TypeError, json.JSONDecodeError):
        return None


def _encode_many(values: list, pk: int) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps([values, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_many(cursor: str, kinds: list[str]):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(kinds):
            return None
        values = [_convert(v, k) for v, k in zip(values, kinds, strict=True)]
        if any(v is None for v in values):
            return None
        return values, int(pk)
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


def _after_many(fields: tuple[str, ...], values: list, pk: int, desc: bool) -> Q:
    """Rows strictly after (values…, pk) in the order (fields…, pk), all ``desc`` or not:
    (a > v) OR (a = v AND (b > w OR (b = w AND pk > p))), with the leading range
    ``a >= v`` in front so an index on (a, b, id) is entered at the cursor's ``a``."""
    op = "lt" if desc else "gt"
    cond = Q(**{f"pk__{op}": pk})
    for field, value in reversed(list(zip(fields, values, strict=True))):
        cond = Q(**{f"{field}__{op}": value}) | (Q(**{field: value}) & cond)
    return Q(**{f"{fields[0]}__{op}e": values[0]}) & cond


def _slice(
    qs: QuerySet,
    order: list,
    size: int,
    forward: bool,
    had_cursor: bool,
    encode: Callable[[Any], str],
) -> Page:
    """The page itself, for one column or several: ``size + 1`` rows in ``order`` tell
    whether more lie beyond; walking back, the rows come in reverse and are flipped.
    ``encode`` makes a row's cursor, given only where a neighbouring page exists."""
    rows = list(qs.order_by(*order)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    if not rows:
        return Page(rows, None, None)
    first, last = rows[0], rows[-1]
    has_next = more if forward else had_cursor
    has_prev = had_cursor if forward else more
    return Page(
        rows,
        encode(last) if has_next else None,
        encode(first) if has_prev else None,
    )


def _paginate_many(
    qs: QuerySet,
    fields: tuple[str, ...],
    *,
    descending: bool,
    size: int,
    after: str | None,
    before: str | None,
) -> Page:
    """``paginate`` by several columns (none of them NULL), then the id: the database
    walks an index on the same columns instead of sorting a computed key."""
    kinds = []
    for field in fields:
        kind, nullable = _describe(qs, field)
        if nullable:
            raise ValueError(f"{field} can be NULL: not a column of a composite keyset")
        kinds.append(kind)
    forward = before is None
    raw = after if after else before
    cursor = _decode_many(raw, kinds) if raw else None
    desc = descending if forward else not descending
    if cursor is not None:
        qs = qs.filter(_after_many(fields, cursor[0], cursor[1], desc))
    order = [f"-{f}" if desc else f for f in fields] + ["-pk" if desc else "pk"]

    def encode(row) -> str:
        values = []
        for field in fields:
            obj = row
            for part in field.split("__"):
                obj = getattr(obj, part)
            values.append(obj)
        return _encode_many(values, row.pk)

    return _slice(qs, order, size, forward, cursor is not None, encode)


def paginate(
    qs: QuerySet,
    field: str | tuple[str, ...],
    *,
    descending: bool,
    size: int,
    after: str | None = None,
    before: str | None = None,
) -> Page:
    """A page of ``qs`` ordered by ``field`` (or by several non-null columns, a tuple),
    then the id; ``after`` / ``before`` are the cursors of the neighbouring pages."""
    if isinstance(field, tuple):
        return _paginate_many(
            qs, field, descending=descending, size=size, after=after, before=before
        )
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
    return _slice(
        qs,
        order,
        size,
        forward,
        cursor is not None,
        lambda row: _encode(getattr(row, attr), row.pk),
    )
