"""``/healthz`` and ``/readyz`` for probes, and the administrators' page of failures."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from aftercare.mail.ingest import REASONS
from aftercare.mail.models import InboundMessage, OutboundMail
from aftercare.monitoring import checks, services
from aftercare.monitoring.models import FailedJob
from aftercare.tenancy.scoping import system_scope
from aftercare.webhooks.models import Delivery

VIEW_PERM = "monitoring.view_failedjob"
RETRY_PERM = "monitoring.retry_failedjob"
PAGE_SIZE = 50

# -- probes -------------------------------------------------------------------------------


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers. Touches nothing else (no database), so a restart loop is never
    caused by a dependency being down."""
    return JsonResponse({"status": "ok"})


def _may_see_details(request: HttpRequest) -> bool:
    """The checks' details (mailbox names, counts of failures, latencies) are for the
    monitoring system holding ``AFTERCARE_HEALTH_TOKEN`` and for signed-in
    administrators (who see the failures page); everyone else — anonymous callers, and
    everyone when no token is set — gets only the overall status and the HTTP code."""
    token = settings.AFTERCARE_HEALTH_TOKEN
    if token:
        given = request.headers.get("X-Health-Token", "")
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            given = given or auth[7:].strip()
        if given and constant_time_compare(given, token):
            return True
    permset = getattr(request, "permset", None)
    return bool(
        permset is not None
        and permset.is_agent
        and permset.has(VIEW_PERM)
        and permset.organisation_scope is None
    )


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    report = checks.run()
    status = 503 if report["status"] == checks.FAIL else 200
    if not _may_see_details(request):
        report = {"status": report["status"]}
    response = JsonResponse(report, status=status)
    # The failed checks were logged one line each; spare the log Django's error line for
    # every 503 while a probe polls an outage.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


# -- the failures page ----------------------------------------------------------------------


def monitoring_required(view):
    """Administrators who serve every customer: the page shows every organisation's
    failures. Customers and other staff get 403; an agent restricted to some
    organisations gets 404 (to them the page does not exist, as with mail triage)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.permset.is_agent or not request.permset.has(VIEW_PERM):
            raise PermissionDenied(_("The failures page is for administrators."))
        if request.permset.organisation_scope is not None:
            raise Http404(_("The failures page is for administrators who serve every customer."))
        return view(request, *args, **kwargs)

    return wrapper


TABS = ("jobs", "outbound", "inbound", "webhooks")


def _rows(show: str, state: str):
    if show == "outbound":
        return (
            OutboundMail.objects.filter(state=OutboundMail.State.FAILED)
            .select_related("ticket")
            .order_by("-created_at", "-pk")
        )
    if show == "inbound":
        return InboundMessage.objects.filter(
            outcome=InboundMessage.Outcome.REJECTED, resolved_at__isnull=True
        ).order_by("-received_at", "-pk")
    if show == "webhooks":
        return (
            Delivery.objects.filter(state=Delivery.State.FAILED)
            .select_related("subscription", "ticket")
            .order_by("-created_at", "-pk")
        )
    rows = FailedJob.objects.order_by("-failed_at", "-pk")
    return rows if state == "all" else rows.filter(resolved=False)


@monitoring_required
@require_safe
def failure_list(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "jobs")
    if show not in TABS:
        show = "jobs"
    state = "all" if request.GET.get("state") == "all" else "open"
    with system_scope():
        page = Paginator(_rows(show, state), PAGE_SIZE).get_page(request.GET.get("page"))
        if show == "inbound":
            for row in page:
                row.reason_text = REASONS.get(row.reason, row.reason)
        counts = {tab: _rows(tab, "open").count() for tab in TABS}
        return render(
            request,
            "monitoring/failures.html",
            {
                "page": page,
                "show": show,
                "state": state,
                "counts": counts,
                "can_retry": request.permset.has(RETRY_PERM),
                "nav": "monitoring",
            },
        )


@monitoring_required
@require_POST
def failure_retry(request: HttpRequest) -> HttpResponse:
    if not request.permset.has(RETRY_PERM):
        raise PermissionDenied(_("You may not retry failures."))
    kind = request.POST.get("kind", "")
    try:
        pk = int(request.POST.get("id", ""))
    except ValueError:
        pk = 0
    back = reverse("monitoring:failure-list") + "?show=" + (kind if kind in TABS else "jobs")
    with system_scope():
        try:
            if kind == "jobs":
                job = get_object_or_404(FailedJob, pk=pk)
                if request.POST.get("action") == "resolve":
                    services.resolve_job(job)
                    messages.success(request, _("The job is marked as resolved."))
                    return redirect(back)
                services.retry_job(job)
                messages.success(request, _("The job was queued again."))
            elif kind == "outbound":
                services.retry_outbound(get_object_or_404(OutboundMail, pk=pk))
                messages.success(request, _("The message will be sent again."))
            elif kind == "inbound":
                outcome = services.retry_inbound(get_object_or_404(InboundMessage, pk=pk))
                label = InboundMessage.Outcome(outcome).label
                if outcome == InboundMessage.Outcome.REJECTED:
                    messages.warning(request, _("Processed again; still rejected."))
                else:
                    messages.success(
                        request, _("Processed again: %(outcome)s.") % {"outcome": label}
                    )
            elif kind == "webhooks":
                services.retry_webhook(get_object_or_404(Delivery, pk=pk))
                messages.success(request, _("The delivery was queued again."))
            else:
                messages.error(request, _("Unknown kind of failure."))
        except services.RetryError as exc:
            messages.error(request, exc.message)
    return redirect(back)
