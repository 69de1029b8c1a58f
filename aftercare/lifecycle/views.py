"""Staff pages (``lifecycle:``) and the customers' read-only page (``lifecycle_portal:``).

Every staff page checks ``lifecycle.view_environment`` before anything is looked up (a
customer gets 403 whatever the address names), then fetches through
``visible_environments`` / ``visible_organisations`` (404 for what the user may not
reach), and only then checks the right to change something (403).
"""

from __future__ import annotations

from collections import defaultdict
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from aftercare.lifecycle import services
from aftercare.lifecycle.forms import DeploymentForm, ReleaseForm
from aftercare.lifecycle.models import (
    ChangeLink,
    Deployment,
    Environment,
    MaintenanceWindow,
    Product,
    Responsibility,
)
from aftercare.tenancy.models import Contract, Organisation
from aftercare.tenancy.querysets import visible_organisations

KIND_ORDER = [k for k, _label in Environment.Kind.choices]
HISTORY = 50  # deployments shown per environment


def staff_required(view):
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        permset = request.permset
        if not permset.is_agent or not permset.has("lifecycle.view_environment"):
            raise PermissionDenied(_("These pages are for the service desk's staff."))
        return view(request, *args, **kwargs)

    return wrapper


def _matrix(rows: list[dict]) -> list[dict]:
    """One line per system, one cell per environment kind (a kind may hold several)."""
    lines: dict[int, dict] = {}
    for row in rows:
        env = row["environment"]
        line = lines.setdefault(
            env.system_id,
            {
                "organisation": env.organisation,
                "system": env.system,
                "latest": row["latest"],
                "cells": {k: [] for k in KIND_ORDER},
                "behind": False,
            },
        )
        line["cells"][env.kind].append(row)
        line["behind"] = line["behind"] or row["behind"]
    result = sorted(lines.values(), key=lambda x: (x["organisation"].name, x["system"].name))
    for line in result:
        line["cells"] = [line["cells"][k] for k in KIND_ORDER]
    return result


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    rows = services.version_rows(services.visible_environments(request.permset))
    only_behind = request.GET.get("behind") == "1"
    lines = _matrix(rows)
    if only_behind:
        lines = [line for line in lines if line["behind"]]
    return render(
        request,
        "lifecycle/overview.html",
        {
            "lines": lines,
            "kinds": Environment.Kind.choices,
            "only_behind": only_behind,
            "behind_count": sum(1 for r in rows if r["behind"]),
            "nav": "lifecycle",
        },
    )


def _responsibility_matrix(contracts: list[Contract]) -> list[dict]:
    cells = defaultdict(dict)
    for r in Responsibility.objects.filter(contract__in=contracts):
        cells[r.contract_id][r.area] = r
    return [
        {
            "contract": c,
            "areas": [
                (label, cells[c.pk].get(area)) for area, label in Responsibility.Area.choices
            ],
        }
        for c in contracts
    ]


@staff_required
def organisation(request: HttpRequest, code: str) -> HttpResponse:
    org = visible_organisations(request.permset).filter(code=code).first()
    if org is None:
        raise Http404("No such organisation")
    environments = services.visible_environments(request.permset).filter(organisation=org)
    contracts = list(Contract.objects.filter(organisation=org))
    return render(
        request,
        "lifecycle/organisation.html",
        {
            "org": org,
            "rows": services.version_rows(environments),
            "matrix": _responsibility_matrix(contracts),
            "windows": MaintenanceWindow.objects.filter(organisation=org).select_related(
                "contract", "environment"
            ),
            "nav": "lifecycle",
        },
    )


def _history(environments):
    return (
        Deployment.objects.filter(environment__in=environments)
        .select_related("release", "deployed_by", "emergency_approved_by", "environment")
        .prefetch_related(
            Prefetch("change_links", queryset=ChangeLink.objects.select_related("ticket"))
        )
    )


@staff_required
def environment_detail(request: HttpRequest, environment_id: int) -> HttpResponse:
    env = services.visible_environments(request.permset).filter(pk=environment_id).first()
    if env is None:
        raise Http404("No such environment")
    may_deploy = request.permset.has(services.DEPLOY_PERMISSION)
    form = None
    if request.method == "POST":
        if not may_deploy:
            raise PermissionDenied(_("You may not record deployments."))
        form = DeploymentForm(request.POST, environment=env)
        if form.is_valid():
            data = form.cleaned_data
            try:
                deployment = services.deploy(
                    release=data["release"],
                    environment=env,
                    actor=request.user,
                    result=data["result"],
                    deployed_at=data["deployed_at"],
                    change_requests=list(data["change_requests"]),
                    emergency=data["emergency"],
                    emergency_reason=data["emergency_reason"],
                    notes=data["notes"],
                )
            except services.DeploymentRefused as refused:
                for reason in refused.reasons:
                    form.add_error(None, reason)
            else:
                messages.success(
                    request,
                    _("Deployment of %(release)s recorded: %(result)s.")
                    % {
                        "release": deployment.release.label,
                        "result": deployment.get_result_display(),
                    },
                )
                return redirect("lifecycle:environment", environment_id=env.pk)
    elif may_deploy:
        form = DeploymentForm(environment=env)
    row = services.version_rows([env])[0]
    return render(
        request,
        "lifecycle/environment.html",
        {
            "env": env,
            "row": row,
            "deployments": _history([env])[:HISTORY],
            "windows": services.windows_for(env),
            "form": form,
            "may_emergency": request.permset.has(services.EMERGENCY_PERMISSION),
            "nav": "lifecycle",
        },
        status=400 if form is not None and form.is_bound else 200,
    )


@staff_required
def releases(request: HttpRequest) -> HttpResponse:
    permset = request.permset
    # Releases are the vendor's catalogue for every customer: an agent limited to some
    # customers does not change it.
    may_add = permset.has("lifecycle.add_release") and permset.organisation_scope is None
    form = None
    status = 200
    if request.method == "POST":
        if not may_add:
            raise PermissionDenied(_("You may not add releases."))
        form = ReleaseForm(request.POST)
        if form.is_valid():
            release = form.save()
            messages.success(request, _("Release %(release)s added.") % {"release": release})
            return redirect("lifecycle:releases")
        status = 400
    elif may_add:
        form = ReleaseForm()
    products = Product.objects.prefetch_related("releases")
    latest = services.latest_releases()
    return render(
        request,
        "lifecycle/releases.html",
        {
            "products": [
                {
                    "product": p,
                    "releases": sorted(p.releases.all(), key=lambda r: r.key, reverse=True),
                    "latest": latest.get(p.pk),
                }
                for p in products
            ],
            "form": form,
            "nav": "releases",
        },
        status=status,
    )


# -- the customer's page -----------------------------------------------------------------


@login_required
def portal_environments(request: HttpRequest) -> HttpResponse:
    """The customer's own systems: environments, versions, who does what, history.

    Only the organisations the person is a member of, whatever else they may be (an
    agent opening it sees nothing here; the console is theirs).
    """
    own = list(request.permset.memberships)
    orgs = list(Organisation.objects.filter(pk__in=own))
    environments = list(
        Environment.objects.filter(organisation_id__in=own).select_related(
            "organisation", "system", "current_release", "current_release__product"
        )
    )
    history = defaultdict(list)
    for d in (
        Deployment.objects.filter(environment__in=environments)
        .select_related("release", "deployed_by")
        .order_by("-deployed_at", "-pk")
    ):
        if len(history[d.environment_id]) < HISTORY:
            history[d.environment_id].append(d)
    rows = services.version_rows(environments)
    for row in rows:
        row["history"] = history[row["environment"].pk]
    contracts = list(Contract.objects.filter(organisation_id__in=own))
    return render(
        request,
        "lifecycle/portal.html",
        {
            "sections": [
                {
                    "org": org,
                    "rows": [r for r in rows if r["environment"].organisation_id == org.pk],
                    "matrix": _responsibility_matrix(
                        [c for c in contracts if c.organisation_id == org.pk]
                    ),
                }
                for org in orgs
            ],
            "nav": "environments",
        },
    )
