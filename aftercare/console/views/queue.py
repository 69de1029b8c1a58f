"""The queue and the board."""

from __future__ import annotations

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from aftercare.accounts.querysets import agents
from aftercare.console.forms import (
    SORTS,
    QueueFilterForm,
)
from aftercare.console.views.common import _prefix, _safe_next, agent_required
from aftercare.console.views.request import _perform
from aftercare.desk import workflow
from aftercare.desk.models import OPEN_STATUSES, Status
from aftercare.desk.querysets import get_ticket_for_user, visible_tickets
from aftercare.lib.keyset import paginate
from aftercare.tenancy.querysets import visible_organisations


def _filtered(request: HttpRequest, form: QueueFilterForm, default_status: str = "open"):
    qs = visible_tickets(request.permset)
    data = form.cleaned_data if form.is_valid() else {}
    status = data.get("status") or default_status
    if status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status != "all":
        qs = qs.filter(status=status)
    for name in ("priority", "level", "organisation"):
        if data.get(name) not in (None, ""):
            qs = qs.filter(**{name if name != "organisation" else "organisation_id": data[name]})
    if data.get("category"):
        qs = qs.filter(category=data["category"])
    assignee = data.get("assignee")
    if assignee == "me":
        qs = qs.filter(assignee=request.user)
    elif assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif assignee:
        qs = qs.filter(assignee_id=int(assignee))
    sla = data.get("sla")
    now = timezone.now()
    if sla == "soon":
        qs = qs.filter(sla_warn_at__lte=now, sla_due_at__gt=now)
    elif sla == "breached":
        qs = qs.filter(Q(sla_due_at__lte=now) | Q(sla_state="breached"))
    elif sla == "paused":
        qs = qs.filter(sla_state="paused")
    if data.get("sort") == "sla":
        qs = qs.filter(sla_due_at__isnull=False)  # only running clocks have a due time
    text = (data.get("q") or "").strip()
    if text:
        if text.upper().startswith(f"{_prefix()}-"):
            qs = qs.filter(number=text.upper())  # the unique index answers at once
        elif text.isdigit():
            qs = qs.filter(Q(number__endswith=f"-{int(text):06d}") | Q(subject__icontains=text))
        else:
            qs = qs.filter(subject__icontains=text)
    return qs, data


@agent_required
def queue(request: HttpRequest) -> HttpResponse:
    from django.conf import settings

    form = QueueFilterForm(
        request.GET or None,
        organisations=visible_organisations(request.permset).only("pk", "name"),
        agents=agents(),
    )
    qs, data = _filtered(request, form)
    field, descending, _label = SORTS.get(data.get("sort") or "-updated", SORTS["-updated"])
    page = paginate(
        qs.select_related("organisation", "assignee"),
        field,
        descending=descending,
        size=settings.AFTERCARE_QUEUE_PAGE_SIZE,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
    )
    params = request.GET.copy()
    for key in ("after", "before"):
        params.pop(key, None)
    return render(
        request,
        "console/queue.html",
        {
            "form": form,
            "now": timezone.now(),
            "page": page,
            "total": qs.count(),
            "params": params.urlencode(),
            "nav": "queue",
        },
    )


BOARD_COLUMNS = (
    Status.BACKLOG,
    Status.SPRINT,
    Status.IN_PROGRESS,
    Status.WAITING,
    Status.DONE,
    Status.RELEASED,
)
BOARD_CARDS = 30


@agent_required
def board(request: HttpRequest) -> HttpResponse:
    form = QueueFilterForm(
        request.GET or None,
        organisations=visible_organisations(request.permset).only("pk", "name"),
        agents=agents(),
    )
    # The columns are the statuses and each sorts by urgency: no status or sort filter.
    del form.fields["status"], form.fields["sort"]
    qs, _data = _filtered(request, form, default_status="all")
    qs = qs.filter(status__in=BOARD_COLUMNS)
    counts = dict(qs.order_by().values_list("status").annotate(n=Count("pk")))
    roles = request.permset.staff_roles
    columns = []
    for status in BOARD_COLUMNS:
        rules = workflow.allowed_transitions(status, roles)
        cards = list(
            qs.filter(status=status)
            .select_related("organisation", "assignee")
            .order_by("priority", "-updated_at", "-pk")[:BOARD_CARDS]
        )
        columns.append(
            {
                "status": status,
                "label": Status(status).label,
                "cards": cards,
                "count": counts.get(status, 0),
                "rules": rules,
                "targets": " ".join(r.target for r in rules),
                "reason_targets": " ".join(r.target for r in rules if r.reason_required),
            }
        )
    params = request.GET.copy()
    return render(
        request,
        "console/board.html",
        {
            "form": form,
            "now": timezone.now(),
            "columns": columns,
            "nav": "board",
            "params": params.urlencode(),
        },
    )


@agent_required
@require_POST
def board_move(request: HttpRequest, number: str) -> HttpResponse:
    """A card moved on the board: the same checked transition as on the request page."""
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    _perform(request, ticket, "transition", report=True)
    return redirect(_safe_next(request) or reverse("console:board"))
