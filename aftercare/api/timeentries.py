"""Time spent on a request: read its entries and totals, record one.

Staff only (customers get 403 whatever request they name, like the other staff-only
routes; a restricted agent 404 on other organisations' requests); writes go through ``timetracking.services.record``, so the limits, the
organisation restriction, maintenance mode and the audit event are the pages' own.
"""

from __future__ import annotations

from datetime import date, datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from aftercare.api._common import require_agent, responses, ticket_for
from aftercare.api.errors import ApiError
from aftercare.desk.models import Message
from aftercare.timetracking import reports, services
from aftercare.timetracking.models import TimeEntry

router = Router(tags=["time"])

# The request's entries, newest first; a request rarely has more.
MAX_ENTRIES = 500


class TimeEntryOut(Schema):
    id: int
    minutes: int
    spent_on: date
    note: str
    user_id: int
    user_name: str
    message_id: int | None
    contract_id: int | None
    created_at: datetime

    @staticmethod
    def resolve_user_name(obj: TimeEntry) -> str:
        return obj.user.display_name


class TimeSummaryOut(Schema):
    total_minutes: int
    total_hours: str = Field(description="h:mm")
    entries: list[TimeEntryOut]


class TimeEntryIn(Schema):
    minutes: int | str = Field(
        description='Minutes (1–1440), or a duration such as "1h 30m", "1:30", "45m".'
    )
    spent_on: date | None = Field(None, description="Default: today; never in the future.")
    note: str = Field("", max_length=250)
    message_id: int | None = Field(None, description="A reply or note of this request.")


@router.get(
    "/tickets/{number}/time",
    response=responses({200: TimeSummaryOut}, 403, 404),
    url_name="time-list",
    summary="Time spent on a request",
)
def list_time(request: HttpRequest, number: str):
    """Every entry (newest first) and the total; staff only."""
    require_agent(request)  # customers: 403 whatever they name, as on every staff route
    ticket = ticket_for(request, number)
    entries = list(
        TimeEntry.objects.filter(ticket=ticket)
        .select_related("user")
        .order_by("-spent_on", "-created_at", "-pk")[:MAX_ENTRIES]
    )
    total = reports.ticket_summary(ticket.pk, last=0)["total"].minutes
    return {
        "total_minutes": total,
        "total_hours": reports.hours_minutes(total),
        "entries": entries,
    }


def _payload(request: HttpRequest) -> TimeEntryIn:
    """The body, read after the staff check: a customer gets 403 whatever they post."""
    import json

    import pydantic
    from django.utils.translation import gettext as _

    try:
        data = json.loads(request.body or b"{}")
        return TimeEntryIn.model_validate(data)
    except (ValueError, pydantic.ValidationError) as exc:
        fields: dict[str, list[str]] = {}
        for error in getattr(exc, "errors", lambda: [])():
            name = str(error["loc"][0]) if error.get("loc") else "body"
            fields.setdefault(name, []).append(str(error.get("msg", "")))
        raise ApiError(
            422,
            "validation_error",
            _("The request body is not valid."),
            fields=fields or {"body": [_("Send a JSON object.")]},
        ) from None


@router.post(
    "/tickets/{number}/time",
    response=responses({201: TimeEntryOut}, 400, 403, 404, 422),
    url_name="time-create",
    summary="Record time spent",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": TimeEntryIn.model_json_schema()}},
        }
    },
)
def create_time(request: HttpRequest, number: str):
    """Minutes one agent spent, optionally with one of the request's messages. Body:
    `minutes` (1–1440, or "1h 30m", "1:30", "45m"), optional `spent_on` (not in the
    future), `note`, `message_id`."""
    require_agent(request)  # customers: 403 whatever they name, as on every staff route
    ticket = ticket_for(request, number)
    payload = _payload(request)
    message = None
    if payload.message_id is not None:
        message = Message.objects.filter(ticket=ticket, pk=payload.message_id).first()
        if message is None:
            from django.core.exceptions import ValidationError
            from django.utils.translation import gettext as _

            raise ValidationError({"message_id": _("No such message on this request.")})
    entry = services.record(
        ticket=ticket,
        actor=request.user,
        minutes=payload.minutes,
        message=message,
        spent_on=payload.spent_on,
        note=payload.note,
    )
    return Status(201, TimeEntry.objects.select_related("user").get(pk=entry.pk))
