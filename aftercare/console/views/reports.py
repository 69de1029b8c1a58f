"""Reports and the signed-in agent's notifications."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from aftercare.console.views.common import agent_required
from aftercare.desk.querysets import visible_tickets
from aftercare.tenancy.querysets import visible_organisations


@agent_required
def reports(request: HttpRequest) -> HttpResponse:
    """SLA compliance, response and resolution times, backlog age (support managers)."""
    from aftercare.sla import presentation
    from aftercare.sla import reports as sla_reports
    from aftercare.sla.models import SlaClock

    if not request.permset.has("desk.view_reports"):
        raise PermissionDenied(_("Reports are for support managers."))
    start, end = sla_reports.period_from(request.GET)
    tickets = visible_tickets(request.permset)
    organisations = list(visible_organisations(request.permset).only("pk", "name"))
    organisation_id = None
    try:
        organisation_id = int(request.GET.get("organisation") or 0) or None
    except ValueError:
        organisation_id = None
    clocks = SlaClock.objects.filter(ticket__in=tickets.values("pk"))
    if organisation_id:
        tickets = tickets.filter(organisation_id=organisation_id)
        clocks = clocks.filter(organisation_id=organisation_id)
    report = sla_reports.build(tickets, clocks, start, end)
    return presentation.respond(
        request,
        "console/reports.html",
        report,
        organisations=organisations,
        organisation_id=organisation_id,
        nav="reports",
    )
