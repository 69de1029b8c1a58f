"""Requests: the queue with the console's filters, filing, reading, changing, moving.

Every read goes through ``visible_tickets``/``get_ticket_for_user`` and every change
through ``desk.services``; this module only translates between JSON and those calls.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from aftercare.accounts.models import User
from aftercare.accounts.querysets import agents
from aftercare.api._common import (
    keyset_page,
    plain,
    renamed_fields,
    require_agent,
    responses,
    ticket_for,
)
from aftercare.api.errors import ApiError, validation_error
from aftercare.api.schemas import (
    SlaOut,
    TicketCreate,
    TicketDetailOut,
    TicketFilters,
    TicketPage,
    TicketPatch,
    TransitionIn,
)
from aftercare.console.forms import SORTS, QueueFilterForm
from aftercare.console.views import _filtered
from aftercare.desk import services
from aftercare.desk.models import Channel, Level, Ticket
from aftercare.sla import services as sla_services
from aftercare.tenancy.models import System
from aftercare.tenancy.querysets import visible_organisations

router = Router(tags=["tickets"])

_RELATED = ("organisation", "system", "reporter", "assignee")
_FORM_FIELDS = frozenset(QueueFilterForm.base_fields)


def _queue_form(request: HttpRequest, filters: TicketFilters) -> QueueFilterForm:
    """The console's filter form, bound to the API's query; invalid filters are a 422."""
    params = QueryDict(mutable=True)
    for name, value in filters.dict(exclude_none=True).items():
        if name in _FORM_FIELDS:
            params[name] = str(plain(value))
    permset = request.permset  # type: ignore[attr-defined]
    # Choices cost a query each; build only those the query uses.
    form = QueueFilterForm(
        params,
        organisations=(
            visible_organisations(permset).only("pk", "name") if "organisation" in params else ()
        ),
        agents=agents() if params.get("assignee") not in (None, "me", "none") else (),
    )
    if not form.is_valid():
        fields = {name: list(errors) for name, errors in form.errors.items()}
        raise ApiError(
            422,
            "validation_error",
            _("The data is not valid: %(fields)s.") % {"fields": ", ".join(sorted(fields))},
            fields=fields,
        )
    return form


@router.get(
    "/tickets",
    response=responses({200: TicketPage}, 422),
    url_name="ticket-list",
    summary="List requests",
)
def list_tickets(request: HttpRequest, filters: Query[TicketFilters]):
    """The requests the caller may see, filtered like the console's queue (open requests
    unless `status` says otherwise), newest change first; pages by cursor."""
    form = _queue_form(request, filters)
    qs, data = _filtered(request, form)
    field, descending, _label = SORTS.get(data.get("sort") or "-updated", SORTS["-updated"])
    page = keyset_page(
        qs.select_related(*_RELATED),
        field,
        descending=descending,
        limit=filters.limit,
        after=filters.after,
        before=filters.before,
    )
    return {"items": page.rows, "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor}


def _system(pk: int | None, field: str = "system") -> System | None:
    if pk is None:
        return None
    system = System.objects.filter(pk=pk).first()  # the caller's scope limits the search
    if system is None:
        raise validation_error(field, _("Unknown system."))
    return system


@router.post(
    "/tickets",
    response=responses({201: TicketDetailOut}, 400, 403, 422),
    url_name="ticket-create",
    summary="File a request",
)
def create_ticket(request: HttpRequest, payload: TicketCreate):
    """File a request in one of the caller's organisations (channel `api`). Staff file on
    behalf of a customer and name them in `reporter`."""
    permset = request.permset  # type: ignore[attr-defined]
    organisation = (
        visible_organisations(permset).filter(pk=payload.organisation, is_active=True).first()
    )
    if organisation is None:
        raise validation_error("organisation", _("Choose one of your organisations."))
    reporter = request.user
    if payload.reporter is not None:
        reporter = User.objects.filter(pk=payload.reporter, is_active=True).first()
        if reporter is None:
            raise validation_error(
                "reporter", _("The caller is not a member of this organisation.")
            )
    elif permset.is_agent:
        raise validation_error(
            "reporter", _("Staff register requests for a customer: name the reporter.")
        )
    ticket = services.open_ticket(
        actor=request.user,
        organisation=organisation,
        reporter=reporter,
        subject=payload.subject,
        description=payload.description,
        conditions=payload.conditions,
        category=plain(payload.category),
        priority=plain(payload.priority),
        system=_system(payload.system),
        channel=Channel.API,
    )
    # The instance just written has every field and relation the answer shows (the SLA
    # columns included), and its caller filed it: no need to read it back.
    return Status(201, ticket)


def _reload(request: HttpRequest, ticket: Ticket) -> Ticket:
    return ticket_for(request, ticket.number)


@router.get(
    "/tickets/{number}",
    response=responses({200: TicketDetailOut}, 404),
    url_name="ticket-detail",
    summary="Read a request",
)
def get_ticket(request: HttpRequest, number: str):
    return ticket_for(request, number)


@router.patch(
    "/tickets/{number}",
    response=responses({200: TicketDetailOut}, 400, 403, 404, 409, 422),
    url_name="ticket-update",
    summary="Change a request",
)
def update_ticket(request: HttpRequest, number: str, payload: TicketPatch):
    """Staff change what their role allows: `priority` (with `priority_reason`),
    `category`, `system` and `subject` (triage), `assignee`, and `level` 2 (escalate).
    All or nothing, and only if `version` is still current (else 409 `conflict`)."""
    ticket = ticket_for(request, number)
    changes = payload.dict(exclude_unset=True)
    version = changes.pop("version")
    wanted = set(changes) - {"priority_reason", "escalation_note"}
    if not wanted:
        raise validation_error("__all__", _("Nothing to change."))
    actor = request.user
    with transaction.atomic():
        if "priority" in changes:
            if changes["priority"] is None:
                raise validation_error("priority", _("Choose a priority."))
            with renamed_fields(reason="priority_reason"):
                ticket = services.reprioritise(
                    ticket=ticket,
                    actor=actor,
                    priority=plain(changes["priority"]),
                    reason=changes.get("priority_reason") or "",
                    expected_version=version,
                )
            version = ticket.version
        if wanted & {"category", "system", "subject"}:
            ticket = services.classify(
                ticket=ticket,
                actor=actor,
                category=plain(changes.get("category")),
                system=_system(changes.get("system")),
                subject=changes.get("subject"),
                expected_version=version,
            )
            version = ticket.version
        if "assignee" in changes:
            assignee = None
            if changes["assignee"] is not None:
                assignee = User.objects.filter(pk=changes["assignee"]).first()
                if assignee is None:
                    raise validation_error("assignee", _("Requests can only be assigned to staff."))
            ticket = services.assign(
                ticket=ticket, actor=actor, assignee=assignee, expected_version=version
            )
            version = ticket.version
        if "level" in changes and plain(changes["level"]) != ticket.level:
            if plain(changes["level"]) != Level.L2:
                raise validation_error("level", _("A request cannot go back to L1."))
            with renamed_fields(default="level"):
                ticket = services.escalate(
                    ticket=ticket,
                    actor=actor,
                    note=changes.get("escalation_note") or "",
                    expected_version=version,
                )
    return _reload(request, ticket)


@router.post(
    "/tickets/{number}/transitions",
    response=responses({200: TicketDetailOut}, 400, 403, 404, 409, 422),
    url_name="ticket-transition",
    summary="Move a request to another status",
)
def transition_ticket(request: HttpRequest, number: str, payload: TransitionIn):
    """Move the request as the workflow allows the caller (see `transitions` on the
    request); 409 `transition_not_allowed` says why not."""
    ticket = ticket_for(request, number)
    ticket = services.transition(
        ticket=ticket,
        actor=request.user,
        target=plain(payload.target),
        reason=payload.reason,
        expected_version=payload.version,
    )
    return _reload(request, ticket)


@router.get(
    "/tickets/{number}/sla",
    response=responses({200: SlaOut}, 403, 404),
    url_name="ticket-sla",
    summary="Service-level clocks of a request (staff)",
)
def ticket_sla(request: HttpRequest, number: str):
    require_agent(request)
    ticket = ticket_for(request, number)
    now = timezone.now()
    clocks = []
    for row in sla_services.panel(ticket, now):
        clock = row["clock"]
        clocks.append(
            {
                "metric": clock.metric,
                "state": clock.state,
                "target_minutes": clock.target_minutes,
                "used_minutes": round(sla_services.elapsed_minutes(clock, ticket, now), 1),
                "paused_minutes": round(clock.paused_minutes, 1),
                "target": row["target"],
                "used": row["used"],
                "started_at": clock.started_at,
                "deadline": clock.deadline,
                "warn_at": clock.warn_at,
                "paused_since": clock.paused_since,
                "stopped_at": clock.stopped_at,
                "breached_at": clock.breached_at,
            }
        )
    return {
        "number": ticket.number,
        "state": ticket.sla_state or None,
        "due_at": ticket.sla_due_at,
        "clocks": clocks,
    }
