"""Staff pages (``alerts:``): integrations per customer, the received-log, alert incidents.

Every page first asks ``services.check_view`` (agents with ``lifecycle.view_environment``;
customers get 403 whatever the address names), fetches through the ``visible_*``
functions (404 for what the agent may not reach), and only then checks the right to
change something (``services.check_manage``: managers and administrators, 403).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from aftercare.alerts import services
from aftercare.alerts.forms import IntegrationForm, RouteForm
from aftercare.alerts.models import AlertIntegration, AlertPayload
from aftercare.lifecycle.services import visible_environments
from aftercare.tenancy.querysets import visible_organisations

RECENT = 50


def _may_manage(request: HttpRequest) -> bool:
    return request.permset.has(services.MANAGE_PERMISSION)


@login_required
def integration_list(request: HttpRequest) -> HttpResponse:
    permset = request.permset
    integrations = services.visible_integrations(permset)
    form = None
    if _may_manage(request):
        form = IntegrationForm(
            request.POST if request.method == "POST" else None,
            organisations=visible_organisations(permset).filter(is_active=True),
            environments=visible_environments(permset),
        )
    elif request.method == "POST":
        raise PermissionDenied(_("Only support managers and administrators manage alert tokens."))
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            integration, secret = services.issue(
                organisation=form.cleaned_data["organisation"],
                environment=form.cleaned_data["environment"],
                name=form.cleaned_data["name"],
                resolve_moves_to_done=form.cleaned_data["resolve_moves_to_done"],
                actor=request.user,
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            return render(
                request,
                "alerts/token.html",
                {"integration": integration, "secret": secret, "nav": "alerts"},
            )
    return render(
        request,
        "alerts/list.html",
        {
            "integrations": integrations,
            "incidents": services.visible_incidents(permset).order_by("-last_seen", "-id")[:RECENT],
            "payloads": services.visible_payloads(permset).order_by("-received_at", "-id")[:RECENT],
            "form": form,
            "nav": "alerts",
        },
    )


def _integration(request: HttpRequest, integration_id: int) -> AlertIntegration:
    found = services.visible_integrations(request.permset).filter(pk=integration_id).first()
    if found is None:
        raise Http404
    return found


@login_required
def integration_detail(request: HttpRequest, integration_id: int) -> HttpResponse:
    services.check_view(request.permset)
    integration = _integration(request, integration_id)
    environments = visible_environments(request.permset).filter(
        organisation_id=integration.organisation_id
    )
    form = RouteForm(request.POST if request.method == "POST" else None, environments=environments)
    if request.method == "POST":
        services.check_manage(request.user, integration.organisation_id)
        if form.is_valid():
            try:
                services.add_route(integration=integration, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                messages.success(request, _("The route was saved."))
                return redirect("alerts:integration", integration.pk)
    return render(
        request,
        "alerts/integration.html",
        {
            "integration": integration,
            "routes": integration.routes.select_related("environment__system"),
            "incidents": services.visible_incidents(request.permset)
            .filter(integration=integration)
            .order_by("-last_seen", "-id")[:RECENT],
            "payloads": services.visible_payloads(request.permset)
            .filter(integration=integration)
            .order_by("-received_at", "-id")[:RECENT],
            "form": form,
            "may_manage": _may_manage(request),
            "nav": "alerts",
        },
    )


@login_required
def integration_revoke(request: HttpRequest, integration_id: int) -> HttpResponse:
    services.check_view(request.permset)  # customers: 403 whatever the method
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    integration = _integration(request, integration_id)
    services.revoke(integration=integration, actor=request.user)
    messages.success(request, _("The token was revoked; the sender is refused from now on."))
    return redirect("alerts:integration", integration.pk)


@login_required
def payload_detail(request: HttpRequest, payload_id: int) -> HttpResponse:
    payload: AlertPayload | None = (
        services.visible_payloads(request.permset).filter(pk=payload_id).first()
    )
    if payload is None:
        raise Http404
    return render(request, "alerts/payload.html", {"payload": payload, "nav": "alerts"})
