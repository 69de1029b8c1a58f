"""Staff pages (``availability:``) and the coordinator's pages (``availability_portal:``).

Staff pages check ``availability.view_downtime`` before anything is looked up (a customer
gets 403 whatever the address names), then fetch through ``visible_environments`` /
``visible_organisations`` (404 for what the agent may not reach: a restricted agent sees
only their organisations), and only then check the right to change something (403).
The portal pages show a coordinator their own organisations only (like the service-level
report): another organisation is a 404, a customer user who is not its coordinator 403.
"""

from __future__ import annotations

from datetime import date
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.availability import charts, reports, services
from aftercare.availability.forms import DowntimeForm, EndForm
from aftercare.availability.models import Downtime
from aftercare.lifecycle.models import Environment
from aftercare.lifecycle.services import visible_environments, windows_for
from aftercare.tenancy.models import Organisation
from aftercare.tenancy.querysets import visible_organisations

DOWNTIMES_SHOWN = 100  # per environment page, newest first


def staff_required(view):
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        permset = request.permset
        if not permset.is_agent or not permset.has(services.VIEW_PERMISSION):
            raise PermissionDenied(_("These pages are for the service desk's staff."))
        return view(request, *args, **kwargs)

    return wrapper


def _month(request: HttpRequest, organisation: Organisation | None = None) -> date:
    zone = organisation.zone if organisation else timezone.get_current_timezone()
    today = timezone.localdate(timezone.now(), zone)
    return reports.parse_month(request.GET.get("month"), today.replace(day=1))


def _month_links(month: date) -> dict:
    return {
        "month": month,
        "month_value": f"{month:%Y-%m}",
        "previous_value": f"{reports.previous_month(month):%Y-%m}",
        "next_value": f"{reports.next_month(month):%Y-%m}",
    }


def _charts(report: reports.OrganisationReport) -> list[dict]:
    """One trend per contract; environments outside a contract's production get theirs."""
    out = [
        {
            "title": _("Contract %(number)s") % {"number": c.contract.number},
            "chart": charts.trend(c.months, c.contract.availability_target),
        }
        for c in report.contracts
    ]
    covered = {e.environment.pk for c in report.contracts for e in c.environments}
    out += [
        {"title": str(e.environment), "chart": charts.trend(e.months, e.current.target)}
        for e in report.environments
        if e.environment.pk not in covered and e.environment.is_production
    ]
    return out


def _report_context(organisation: Organisation, month: date, environments) -> dict:
    report = reports.build(organisation, month, list(environments))
    return {
        "org": organisation,
        "report": report,
        "charts": _charts(report),
        **_month_links(month),
    }


def _environments_of(queryset, organisation: Organisation):
    return list(
        queryset.filter(organisation=organisation).select_related(
            "system", "system__contract", "system__contract__sla_plan__calendar"
        )
    )


def _pdf_response(organisation: Organisation, month: date, environments) -> HttpResponse:
    from aftercare.documents.pdf import render_pdf

    context = _report_context(organisation, month, environments)
    pdf = render_pdf("availability/report_pdf.html", context, organisation.language)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="availability-{organisation.code}-{month:%Y-%m}.pdf"'
    )
    return response


# -- staff ----------------------------------------------------------------------------


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    """Every visible customer's contracts for one month, against their targets."""
    month = _month(request)
    environments = list(
        visible_environments(request.permset).select_related(
            "system__contract", "system__contract__sla_plan__calendar"
        )
    )
    by_org: dict[int, list[Environment]] = {}
    for env in environments:
        by_org.setdefault(env.organisation_id, []).append(env)
    rows = []
    for org in visible_organisations(request.permset).filter(pk__in=list(by_org)):
        report = reports.build(org, month, by_org[org.pk], history=1)
        rows.append({"org": org, "report": report})
    return render(
        request,
        "availability/overview.html",
        {"rows": rows, "nav": "availability", **_month_links(month)},
    )


def _staff_org(request: HttpRequest, code: str) -> Organisation:
    org = visible_organisations(request.permset).filter(code=code).first()
    if org is None:
        raise Http404("No such organisation")
    return org


@staff_required
def organisation(request: HttpRequest, code: str) -> HttpResponse:
    org = _staff_org(request, code)
    month = _month(request, org)
    context = _report_context(
        org, month, _environments_of(visible_environments(request.permset), org)
    )
    context["may_record"] = request.permset.has(services.RECORD_PERMISSION)
    context["nav"] = "availability"
    return render(request, "availability/organisation.html", context)


@staff_required
def organisation_pdf(request: HttpRequest, code: str) -> HttpResponse:
    org = _staff_org(request, code)
    month = _month(request, org)
    return _pdf_response(org, month, _environments_of(visible_environments(request.permset), org))


@staff_required
def environment(request: HttpRequest, environment_id: int) -> HttpResponse:
    """One environment's downtimes, and the form to record one by hand."""
    env = visible_environments(request.permset).filter(pk=environment_id).first()
    if env is None:
        raise Http404("No such environment")
    may_record = request.permset.has(services.RECORD_PERMISSION)
    form = None
    if request.method == "POST":
        if not may_record:
            raise PermissionDenied(_("You may not record downtimes."))
        form = DowntimeForm(request.POST, environment=env)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.record_downtime(
                    environment=env,
                    started_at=data["started_at"],
                    ended_at=data["ended_at"],
                    cause=data["cause"],
                    planned=form.planned_value(),
                    incidents=list(data["incidents"]),
                    actor=request.user,
                )
            except services.DowntimeRefused as refused:
                for reason in refused.reasons:
                    form.add_error(None, reason)
            else:
                messages.success(request, _("The downtime was recorded."))
                return redirect("availability:environment", environment_id=env.pk)
    elif may_record:
        form = DowntimeForm(environment=env)
    downtimes = list(
        Downtime.objects.filter(environment=env)
        .select_related("created_by")
        .prefetch_related("incidents")
        .order_by("-started_at", "-pk")[:DOWNTIMES_SHOWN]
    )
    for row in downtimes:
        row.environment = env  # no query per row in the list
    return render(
        request,
        "availability/environment.html",
        {
            "env": env,
            "downtimes": downtimes,
            "windows": windows_for(env),
            "form": form,
            "may_record": may_record,
            "now": timezone.now(),
            "nav": "availability",
        },
        status=400 if form is not None and form.is_bound else 200,
    )


@staff_required
def downtime(request: HttpRequest, downtime_id: int) -> HttpResponse:
    """Correct a downtime, or end one that is still open."""
    row = (
        services.visible_downtimes(request.permset)
        .filter(pk=downtime_id)
        .select_related("environment__organisation", "environment__system")
        .first()
    )
    if row is None:
        raise Http404("No such downtime")
    env = row.environment
    may_record = request.permset.has(services.RECORD_PERMISSION)
    form = DowntimeForm(environment=env, downtime=row) if may_record else None
    end_form = EndForm(environment=env) if may_record and row.is_open else None
    if request.method == "POST":
        if not may_record:
            raise PermissionDenied(_("You may not change downtimes."))
        try:
            if request.POST.get("action") == "end":
                end_form = EndForm(request.POST, environment=env)
                if end_form.is_valid():
                    services.end_downtime(
                        downtime=row, ended_at=end_form.cleaned_data["ended_at"], actor=request.user
                    )
                    messages.success(request, _("The downtime was ended."))
                    return redirect("availability:environment", environment_id=env.pk)
            else:
                form = DowntimeForm(request.POST, environment=env, downtime=row)
                if form.is_valid():
                    data = form.cleaned_data
                    services.update_downtime(
                        downtime=row,
                        started_at=data["started_at"],
                        ended_at=data["ended_at"],
                        cause=data["cause"],
                        planned=bool(form.planned_value()),
                        incidents=list(data["incidents"]),
                        actor=request.user,
                    )
                    messages.success(request, _("The downtime was saved."))
                    return redirect("availability:environment", environment_id=env.pk)
        except services.DowntimeRefused as refused:
            target = end_form if request.POST.get("action") == "end" else form
            for reason in refused.reasons:
                target.add_error(None, reason)
    bound = request.method == "POST"
    return render(
        request,
        "availability/downtime.html",
        {
            "env": env,
            "row": row,
            "single": [row],
            "form": form,
            "end_form": end_form,
            "may_record": may_record,
            "nav": "availability",
        },
        status=400 if bound else 200,
    )


# -- the coordinator's pages --------------------------------------------------------------


def _coordinated(request: HttpRequest) -> list[int]:
    permset = request.permset
    if permset.is_agent:
        return []
    coordinated = sorted(permset.coordinator_of)
    if not coordinated:
        raise PermissionDenied(_("Availability reports are for your organisation's coordinator."))
    return coordinated


def _portal_org(request: HttpRequest, code: str) -> Organisation:
    """Another organisation is a 404; one's own, without being its coordinator, a 403."""
    permset = request.permset
    org = Organisation.objects.filter(pk__in=list(permset.memberships), code=code).first()
    if org is None:
        raise Http404("No such organisation")
    if org.pk not in permset.coordinator_of:
        raise PermissionDenied(_("Availability reports are for your organisation's coordinator."))
    return org


def _portal_environments(org: Organisation):
    return _environments_of(Environment.objects.all(), org)


@login_required
def portal_index(request: HttpRequest) -> HttpResponse:
    if request.permset.is_agent:
        return redirect("availability:overview")
    orgs = list(Organisation.objects.filter(pk__in=_coordinated(request)))
    if len(orgs) == 1:
        return redirect("availability_portal:organisation", code=orgs[0].code)
    return render(request, "availability/portal_index.html", {"orgs": orgs})


@login_required
def portal_organisation(request: HttpRequest, code: str) -> HttpResponse:
    if request.permset.is_agent:
        return redirect("availability:organisation", code=code)
    org = _portal_org(request, code)
    month = _month(request, org)
    context = _report_context(org, month, _portal_environments(org))
    return render(request, "availability/portal.html", context)


@login_required
def portal_pdf(request: HttpRequest, code: str) -> HttpResponse:
    if request.permset.is_agent:
        return redirect("availability:organisation-pdf", code=code)
    org = _portal_org(request, code)
    return _pdf_response(org, _month(request, org), _portal_environments(org))
