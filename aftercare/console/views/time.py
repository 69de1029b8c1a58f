"""Time spent: the request page's "Add time", corrections of one entry, and the billing
report per contract and month (HTML and CSV)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from aftercare.console.request_forms import TimeEntryForm
from aftercare.console.views.common import _attach_errors, agent_required
from aftercare.desk.querysets import get_ticket_for_user
from aftercare.desk.services import ConflictError
from aftercare.sla import reports as sla_reports
from aftercare.tenancy.models import Contract
from aftercare.tenancy.querysets import visible_organisations
from aftercare.timetracking import reports as time_reports
from aftercare.timetracking import services
from aftercare.timetracking.models import TimeEntry


def _back(ticket) -> HttpResponse:
    return redirect(reverse("console:ticket", kwargs={"number": ticket.number}) + "#time-panel")


def _reshow(request: HttpRequest, ticket, form) -> HttpResponse:
    """The request page again, with the time form and its errors (nothing typed lost)."""
    from aftercare.console.views.request import _ticket_context

    messages.error(request, _("The time was not recorded; see the time panel."))
    context = _ticket_context(request, ticket, time=form)
    return render(request, "console/ticket.html", context, status=400)


def _entry(ticket, pk) -> TimeEntry:
    try:
        pk = int(pk or 0)
    except (TypeError, ValueError):
        pk = 0
    entry = TimeEntry.objects.filter(ticket=ticket, pk=pk).select_related("ticket").first()
    if entry is None:
        raise Http404(_("No such time entry."))
    return entry


@agent_required
def time_add(request: HttpRequest, number: str) -> HttpResponse:
    """Time without a message: a phone call, a meeting, reading logs."""
    # Looked up before the method is checked: another organisation's number is a 404
    # whatever the method, so not even a 405 confirms that it exists.
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = TimeEntryForm(request.POST)
    if not form.is_valid():
        return _reshow(request, ticket, form)
    data = form.cleaned_data
    try:
        services.record(
            ticket=ticket,
            actor=request.user,
            minutes=data["minutes"],
            spent_on=data.get("spent_on"),
            note=data.get("note") or "",
        )
    except ValidationError as exc:
        _attach_errors(form, exc)
        return _reshow(request, ticket, form)
    except PermissionDenied as exc:
        raise PermissionDenied(str(exc)) from exc
    messages.success(
        request,
        _("%(time)s recorded on %(number)s.")
        % {"time": time_reports.hours_minutes(data["minutes"]), "number": ticket.number},
    )
    return _back(ticket)


@agent_required
def time_edit(request: HttpRequest, number: str) -> HttpResponse:
    """The entry is a form field (``entry``), so the URL names only the request."""
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    entry = _entry(ticket, request.POST.get("entry"))
    if not services.may_change(request.permset, entry):
        raise PermissionDenied(_("You may only change your own time entries."))
    form = TimeEntryForm(request.POST)
    form.entry_id = entry.pk
    if not form.is_valid():
        return _reshow(request, ticket, form)
    data = form.cleaned_data
    try:
        services.update(
            entry=entry,
            actor=request.user,
            minutes=data["minutes"],
            spent_on=data.get("spent_on"),
            note=data.get("note") or "",
        )
    except ValidationError as exc:
        _attach_errors(form, exc)
        return _reshow(request, ticket, form)
    except ConflictError as exc:  # pragma: no cover - entries carry no version
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Time entry corrected."))
    return _back(ticket)


@agent_required
def time_delete(request: HttpRequest, number: str) -> HttpResponse:
    """The entry is a form field (``entry``), so the URL names only the request."""
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    entry = _entry(ticket, request.POST.get("entry"))
    if not services.may_change(request.permset, entry):
        raise PermissionDenied(_("You may only delete your own time entries."))
    try:
        services.delete(entry=entry, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Time entry deleted."))
    return _back(ticket)


def _int(value) -> int | None:
    try:
        return int(value or 0) or None
    except (TypeError, ValueError):
        return None


def csv_download(text: str, filename: str, *, bom: bool = True) -> HttpResponse:
    """A UTF-8 CSV download with a byte-order mark unless ``bom=False`` — the convention of
    ``sla.presentation.csv_response`` (Excel needs the BOM for diacritics and Cyrillic;
    scripts ask for ``?bom=0``)."""
    body = ("\ufeff" if bom else "") + text
    response = HttpResponse(body.encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@agent_required
def time_report(request: HttpRequest) -> HttpResponse:
    """Time spent per contract and month, per request and per agent (support managers and
    administrators; a restricted one sees only their organisations)."""
    permset = request.permset
    if not permset.has("desk.view_reports"):
        raise PermissionDenied(_("Reports are for support managers."))
    start, end = sla_reports.period_from(request.GET)
    organisations = visible_organisations(permset)
    organisation_list = list(organisations.only("pk", "name").order_by("name"))
    visible_ids = [o.pk for o in organisation_list]
    organisation_id = _int(request.GET.get("organisation"))
    if organisation_id not in visible_ids:
        organisation_id = None
    contracts = list(
        Contract.objects.filter(organisation_id__in=visible_ids)
        .select_related("organisation")
        .order_by("organisation__name", "number")
    )
    contract_id = _int(request.GET.get("contract"))
    if contract_id not in {c.pk for c in contracts}:
        contract_id = None
    entries = TimeEntry.objects.filter(organisation_id__in=visible_ids)
    agents = list(
        get_user_model()
        .objects.filter(pk__in=entries.values("user_id"))
        .order_by("first_name", "last_name", "username")
    )
    agent_id = _int(request.GET.get("agent"))
    if agent_id not in {a.pk for a in agents}:
        agent_id = None
    if organisation_id:
        entries = entries.filter(organisation_id=organisation_id)
    if contract_id:
        entries = entries.filter(contract_id=contract_id)
    if agent_id:
        entries = entries.filter(user_id=agent_id)
    report = time_reports.build(entries, start, end)
    if request.GET.get("format") == "csv":
        return csv_download(
            time_reports.to_csv(report),
            f"time-report-{start:%Y-%m}-{end:%Y-%m}.csv",
            bom=request.GET.get("bom") != "0",
        )
    params = request.GET.copy()
    params.pop("format", None)
    params.pop("bom", None)
    return render(
        request,
        "console/time_report.html",
        {
            "report": report,
            "total_hm": time_reports.hours_minutes(report.total),
            "total_decimal": time_reports.decimal_hours(report.total),
            "requests_shown": report.by_request[: time_reports.REQUEST_ROWS_SHOWN],
            "requests_more": max(0, len(report.by_request) - time_reports.REQUEST_ROWS_SHOWN),
            "organisations": organisation_list,
            "organisation_id": organisation_id,
            "contracts": contracts,
            "contract_id": contract_id,
            "agents": agents,
            "agent_id": agent_id,
            "query": params.urlencode(),
            "nav": "reports",
        },
    )
