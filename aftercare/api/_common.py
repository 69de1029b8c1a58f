"""Helpers the routers share: error declarations, lookups, paging, re-keyed errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError
from django.http import HttpRequest
from django.utils.translation import gettext as _

from aftercare.api.errors import ApiError, ErrorOut
from aftercare.desk.models import Ticket
from aftercare.desk.querysets import get_ticket_for_user
from aftercare.lib.keyset import Page, paginate


def responses(ok: dict[int, Any], *codes: int) -> dict[int, Any]:
    """The operation's success schema plus the error statuses it may answer with."""
    errors = {code: ErrorOut for code in sorted({401, 429, *codes})}
    return {**ok, **errors}


def ticket_for(request: HttpRequest, number: str) -> Ticket:
    """The caller's request by number; 404 when it is not theirs to see (or not there)."""
    return get_ticket_for_user(request.permset, number, lookup="number")  # type: ignore[attr-defined]


def require_agent(request: HttpRequest) -> None:
    if not request.permset.is_agent:  # type: ignore[attr-defined]
        raise ApiError(403, "permission_denied", _("This part of the API is for the desk's staff."))


def page_size(limit: int | None) -> int:
    return min(limit or settings.AFTERCARE_API_PAGE_SIZE, settings.AFTERCARE_API_MAX_PAGE_SIZE)


def keyset_page(qs, field: str, *, descending: bool, limit: int | None, after, before) -> Page:
    """``lib.keyset.paginate``, with a forged cursor refused as a 422 instead of a 500."""
    try:
        return paginate(
            qs, field, descending=descending, size=page_size(limit), after=after, before=before
        )
    except (ValueError, TypeError, OverflowError, ValidationError, DataError):
        name = "before" if before else "after"
        raise ApiError(
            422,
            "validation_error",
            _("This cursor does not belong to this list."),
            fields={name: [_("This cursor does not belong to this list.")]},
        ) from None


def plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


@contextmanager
def renamed_fields(**names: str) -> Iterator[None]:
    """Report a service's field errors under the API's field names (``reason`` →
    ``priority_reason``); errors without a field go under ``default`` if given."""
    default = names.pop("default", None)
    try:
        yield
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise ValidationError({names.get(k, k): v for k, v in exc.error_dict.items()}) from None
        if default:
            raise ValidationError({default: exc.messages}) from None
        raise
