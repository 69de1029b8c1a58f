"""What the API reads and writes. Output schemas resolve from model instances."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from ninja import Field, Schema
from pydantic import field_validator

from aftercare.console.forms import SLA_FILTERS, SORTS, STATUS_FILTERS
from aftercare.desk.models import Category, Channel, Level, Priority, Status
from aftercare.sla.models import Metric, SlaClock


def _enum(name: str, values) -> type[Enum]:
    """A string enum for the schema from a list of codes (the console's filter choices)."""
    return Enum(name, {str(v) or "any": str(v) for v in values}, type=str)  # type: ignore[return-value]


StatusFilter = _enum("StatusFilter", [code for code, _label in STATUS_FILTERS])
SlaFilter = _enum("SlaFilter", [code for code, _label in SLA_FILTERS if code])
SortKey = _enum("SortKey", list(SORTS))


def _is_agent(context: Any) -> bool:
    request = (context or {}).get("request")
    return bool(request is not None and request.permset.is_agent)


class InSchema(Schema):
    """What clients send: no text may carry a NUL character (no text column stores it —
    PostgreSQL refuses it outright — and the forms refuse it too), a 422 naming the field."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("Text may not contain NUL characters.")
        return value


# -- references ---------------------------------------------------------------------------


class UserRef(Schema):
    id: int
    name: str = Field(alias="display_name")


class OrganisationRef(Schema):
    id: int
    code: str
    name: str


class SystemOut(Schema):
    id: int
    name: str
    product: str
    version: str


class OrganisationOut(Schema):
    id: int
    code: str
    name: str
    country: str
    time_zone: str
    language: str
    is_active: bool


# -- tickets ------------------------------------------------------------------------------


class TransitionOut(Schema):
    target: Status
    label: str
    reason_required: bool

    @staticmethod
    def resolve_label(obj) -> str:
        return str(obj.label)


class TicketOut(Schema):
    number: str
    subject: str
    status: Status
    category: Category
    priority: Priority
    customer_priority: Priority
    priority_reason: str
    channel: Channel
    level: Level
    organisation: OrganisationRef
    system: SystemOut | None
    reporter: UserRef
    assignee: UserRef | None
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    released_at: datetime | None
    closed_at: datetime | None
    rejection_reason: str
    sla_state: str | None = Field(
        None,
        description="Staff only: running, warning, breached, paused, met (null for customers).",
    )
    sla_due_at: datetime | None = Field(None, description="Staff only: the nearest deadline.")
    version: int = Field(description="Send it back on PATCH and transitions to detect conflicts.")

    @staticmethod
    def resolve_priority_reason(obj, context) -> str:
        # The portal shows the reason only when the desk's priority differs from the asked one.
        if _is_agent(context) or obj.priority != obj.customer_priority:
            return obj.priority_reason
        return ""

    @staticmethod
    def resolve_sla_state(obj, context) -> str | None:
        return (obj.sla_state or None) if _is_agent(context) else None

    @staticmethod
    def resolve_sla_due_at(obj, context) -> datetime | None:
        return obj.sla_due_at if _is_agent(context) else None


class TicketDetailOut(TicketOut):
    description: str
    conditions: str
    transitions: list[TransitionOut] = Field(
        description="The moves the caller may make now (POST them to /transitions)."
    )

    @staticmethod
    def resolve_transitions(obj, context) -> list:
        from aftercare.desk import workflow

        permset = context["request"].permset
        return workflow.allowed_transitions(obj.status, permset.ticket_roles(obj))


class TicketPage(Schema):
    items: list[TicketOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")
    prev_cursor: str | None = Field(description="Pass as `before` for the previous page.")


class TicketFilters(InSchema):
    """The console queue's filters (``QueueFilterForm``), plus the page controls."""

    q: str | None = Field(None, description="Number (AC-2025-000123 or 123) or subject text.")
    status: StatusFilter | None = Field(None, description="Default: open requests.")  # type: ignore[valid-type]
    priority: Priority | None = None
    category: Category | None = None
    level: Level | None = None
    organisation: int | None = Field(None, description="Organisation id.")
    assignee: str | None = Field(None, description="`me`, `none` or a staff user id.")
    sla: SlaFilter | None = None  # type: ignore[valid-type]
    sort: SortKey | None = Field(None, description="Default: -updated.")  # type: ignore[valid-type]
    after: str | None = Field(None, description="Cursor: the page after this one.")
    before: str | None = Field(None, description="Cursor: the page before this one.")
    limit: int | None = Field(None, ge=1, description="Page size (capped by the server).")


class TicketCreate(InSchema):
    organisation: int = Field(description="Organisation id (see /organisations).")
    subject: str = Field(min_length=1, max_length=250)
    description: str = Field(min_length=1)
    category: Category
    priority: Priority = Priority.NORMAL
    conditions: str = ""
    system: int | None = Field(None, description="System id of that organisation.")
    reporter: int | None = Field(
        None, description="Staff only: the customer the request is for (default: the caller)."
    )


class TicketPatch(InSchema):
    version: int = Field(description="The version you read; 409 if it changed since.")
    priority: Priority | None = None
    priority_reason: str | None = Field(None, description="Required with `priority`.")
    category: Category | None = None
    system: int | None = Field(None, description="System id of the request's organisation.")
    subject: str | None = Field(None, max_length=250)
    assignee: int | None = Field(None, description="Staff user id; null to unassign.")
    level: Level | None = Field(None, description="2 escalates the request to L2.")
    escalation_note: str | None = None


class TransitionIn(InSchema):
    target: Status
    reason: str = ""
    version: int | None = Field(None, description="The version you read; 409 if it changed.")


# -- conversation -------------------------------------------------------------------------


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    is_internal: bool
    created_at: datetime
    message_id: int | None
    download_url: str

    @staticmethod
    def resolve_download_url(obj) -> str:
        from django.urls import reverse

        return reverse("api:v1:attachment-download", kwargs={"pk": obj.pk})


class CommentOut(Schema):
    id: int
    kind: str = Field(description="`public` or `internal`.")
    channel: Channel
    author: UserRef | None
    body: str
    created_at: datetime
    attachments: list[AttachmentOut]

    @staticmethod
    def resolve_attachments(obj) -> list:
        return list(getattr(obj, "visible_attachments", []))


class CommentIn(InSchema):
    body: str = Field(min_length=1)
    internal: bool = Field(False, description="Staff only: an internal note.")


# -- service levels -----------------------------------------------------------------------


class ClockOut(Schema):
    metric: Metric
    state: SlaClock.State
    target_minutes: int
    used_minutes: float
    paused_minutes: float
    target: str = Field(description="The target as people read it, e.g. 8h 00m.")
    used: str
    started_at: datetime
    deadline: datetime | None
    warn_at: datetime | None
    paused_since: datetime | None
    stopped_at: datetime | None
    breached_at: datetime | None


class SlaOut(Schema):
    number: str
    state: str | None
    due_at: datetime | None
    clocks: list[ClockOut]


# -- people -------------------------------------------------------------------------------


class MembershipOut(Schema):
    organisation: OrganisationRef
    role: str


class UserOut(Schema):
    id: int
    username: str
    name: str = Field(alias="display_name")
    email: str
    is_active: bool
    is_staff_member: bool
    roles: list[str] = Field(description="Staff roles (on the single-user read only).")
    memberships: list[MembershipOut]


class UserPage(Schema):
    items: list[UserOut]
    next_cursor: str | None
    prev_cursor: str | None


class MeOut(Schema):
    id: int
    username: str
    name: str
    email: str
    language: str
    time_zone: str
    is_agent: bool
    permissions: list[str]
    staff_roles: list[str]
    memberships: list[MembershipOut]
