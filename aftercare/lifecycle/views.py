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
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from aftercare.lifecycle import services
from aftercare.lifecycle.forms import (
    DeliveredRequestForm,
    DeploymentForm,
    ReleaseApprovalForm,
    ReleaseForm,
    ReleaseNoteForm,
    RolloutForm,
    UpgradeResultForm,
)
from aftercare.lifecycle.models import (
    ChangeLink,
    DeliveredRequest,
    Deployment,
    Environment,
    MaintenanceWindow,
    PlannedUpgrade,
    Product,
    Release,
    ReleaseApproval,
    Responsibility,
    Rollout,
    notes_in,
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
    cells = defaultdict(lambda: defaultdict(list))
    for r in Responsibility.objects.filter(contract__in=contracts).order_by("pk"):
        cells[r.contract_id][r.area].append(r)
    return [
        {
            "contract": c,
            "areas": [
                (label, cells[c.pk].get(area, [])) for area, label in Responsibility.Area.choices
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
    may_ask = env.is_production and request.permset.has("desk.request_approval")
    form = None
    ask_form = ReleaseApprovalForm(environment=env) if may_ask else None
    if request.method == "POST" and request.POST.get("action") == "ask_approval":
        if not may_ask:
            raise PermissionDenied(_("You may not ask for approvals."))
        ask_form = ReleaseApprovalForm(request.POST, environment=env)
        if ask_form.is_valid():
            try:
                services.ask_release_approval(
                    ticket=ask_form.cleaned_data["ticket"],
                    release=ask_form.cleaned_data["release"],
                    environment=env,
                    actor=request.user,
                )
            except ValidationError as exc:
                for message in exc.messages:
                    ask_form.add_error(None, message)
            else:
                messages.success(
                    request,
                    _("The customer's coordinators were asked to approve %(release)s.")
                    % {"release": ask_form.cleaned_data["release"].label},
                )
                return redirect("lifecycle:environment", environment_id=env.pk)
        form = DeploymentForm(environment=env) if may_deploy else None
    elif request.method == "POST":
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
            "ask_form": ask_form,
            "needs_approval": services.needs_approval(env),
            "release_approvals": ReleaseApproval.objects.filter(environment=env)
            .select_related("approval", "approval__ticket", "release")
            .order_by("-approval__requested_at")[:20],
            "may_emergency": request.permset.has(services.EMERGENCY_PERMISSION),
            "nav": "lifecycle",
        },
        status=400
        if (form is not None and form.is_bound) or (ask_form is not None and ask_form.is_bound)
        else 200,
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
    visible = services.visible_releases(permset)
    products = Product.objects.filter(pk__in=visible.values("product_id")).prefetch_related(
        Prefetch("releases", queryset=visible)
    )
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


@staff_required
def release_detail(request: HttpRequest, release_id: int) -> HttpResponse:
    """One release: its notes in every language, the requests it delivers and where it
    went (the rollout across the customers the agent may see)."""
    from aftercare.desk.querysets import visible_tickets

    release = services.visible_releases(request.permset).filter(pk=release_id).first()
    if release is None:
        raise Http404("No such release")
    permset = request.permset
    may_edit = permset.has("lifecycle.add_release") and permset.organisation_scope is None
    may_deliver = permset.has(services.DEPLOY_PERMISSION)
    tickets = visible_tickets(permset)
    note_form = ReleaseNoteForm(prefix="note") if may_edit else None
    deliver_form = DeliveredRequestForm(prefix="deliver", tickets=tickets) if may_deliver else None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "note":
            if not may_edit:
                raise PermissionDenied(_("You may not change release notes."))
            note_form = ReleaseNoteForm(request.POST, prefix="note")
            if note_form.is_valid():
                note_form.save(release)
                messages.success(request, _("Release notes saved."))
                return redirect("lifecycle:release", release_id=release.pk)
            status = 400
        elif action in ("deliver", "undeliver"):
            if not may_deliver:
                raise PermissionDenied(_("You may not say what a release delivers."))
            if action == "undeliver":
                row = (
                    DeliveredRequest.objects.filter(
                        release=release, ticket__in=tickets.values("pk")
                    )
                    .filter(
                        pk=request.POST.get("row") if request.POST.get("row", "").isdigit() else 0
                    )
                    .first()
                )
                if row is None:
                    raise Http404("No such request on this release")
                services.unmark_delivered(row=row, actor=request.user)
                messages.success(request, _("Removed from this release."))
                return redirect("lifecycle:release", release_id=release.pk)
            deliver_form = DeliveredRequestForm(request.POST, prefix="deliver", tickets=tickets)
            if deliver_form.is_valid():
                ticket = deliver_form.cleaned_data["number"]
                try:
                    services.mark_delivered(release=release, ticket=ticket, actor=request.user)
                except ValidationError as exc:
                    for message in exc.messages:
                        deliver_form.add_error("number", message)
                else:
                    messages.success(
                        request,
                        _("%(number)s will be delivered with %(release)s.")
                        % {"number": ticket.number, "release": release.label},
                    )
                    return redirect("lifecycle:release", release_id=release.pk)
            status = 400
        else:
            raise Http404("No such action")
    delivered = (
        DeliveredRequest.objects.filter(release=release, ticket__in=tickets.values("pk"))
        .select_related("ticket", "ticket__organisation")
        .order_by("ticket__organisation__name", "ticket__number")
    )
    return render(
        request,
        "lifecycle/release.html",
        {
            "release": release,
            "translations": list(release.translations.all()),
            "note_form": note_form,
            "deliver_form": deliver_form,
            "delivered": delivered,
            "rollout": services.rollout(release, permset),
            "nav": "releases",
        },
        status=status,
    )


def _visible_targets(permset):
    return PlannedUpgrade.objects.filter(
        environment__in=services.visible_environments(permset).values("pk")
    ).select_related(
        "environment",
        "environment__organisation",
        "environment__system",
        "deployment",
        "deployment__deployed_by",
    )


@staff_required
def rollout_new(request: HttpRequest, release_id: int) -> HttpResponse:
    """Plan a release for many customer environments at once."""
    release = services.visible_releases(request.permset).filter(pk=release_id).first()
    if release is None:
        raise Http404("No such release")
    if not request.permset.has(services.DEPLOY_PERMISSION):
        raise PermissionDenied(_("You may not plan upgrades."))
    candidates = list(
        services.visible_environments(request.permset)
        .filter(system__product=release.product.name)
        .order_by("organisation__name", "system__name", "kind", "name")
    )
    behind = [e.pk for e in candidates if e.current_key is None or e.current_key < release.key]
    environments = (
        Environment.objects.filter(pk__in=behind)
        .select_related("organisation", "system", "current_release")
        .order_by("organisation__name", "system__name", "kind", "name")
    )
    status = 200
    if request.method == "POST":
        form = RolloutForm(request.POST, environments=environments)
        if form.is_valid():
            data = form.cleaned_data
            try:
                rollout = services.plan_rollout(
                    release=release,
                    environments=list(data["environments"]),
                    day=data["day"],
                    at_time=data["at_time"],
                    notes=data["notes"],
                    actor=request.user,
                )
            except services.RolloutRefused as refused:
                for reason in refused.reasons:
                    form.add_error(None, reason)
            else:
                messages.success(
                    request,
                    _("Upgrade to %(release)s planned for %(count)d environments.")
                    % {"release": release.label, "count": rollout.targets.count()},
                )
                return redirect("lifecycle:rollout", rollout_id=rollout.pk)
        status = 400
    else:
        planned = set(
            PlannedUpgrade.objects.filter(
                rollout__release=release, state=PlannedUpgrade.State.PLANNED
            ).values_list("environment_id", flat=True)
        )
        form = RolloutForm(
            environments=environments,
            initial={
                "environments": [
                    e.pk
                    for e in environments
                    if e.kind == Environment.Kind.PRODUCTION and e.pk not in planned
                ]
            },
        )
    return render(
        request,
        "lifecycle/rollout_new.html",
        {"release": release, "form": form, "nav": "releases"},
        status=status,
    )


@staff_required
def rollouts(request: HttpRequest) -> HttpResponse:
    targets = list(_visible_targets(request.permset).select_related("rollout"))
    by_rollout = defaultdict(list)
    for target in targets:
        by_rollout[target.rollout_id].append(target)
    rows = [
        {"rollout": r, "summary": services.rollout_summary(by_rollout[r.pk])}
        for r in Rollout.objects.filter(pk__in=by_rollout).select_related(
            "release", "release__product", "created_by"
        )
    ]
    return render(
        request,
        "lifecycle/rollouts.html",
        {"rows": rows, "states": PlannedUpgrade.State.choices, "nav": "releases"},
    )


@staff_required
def rollout_detail(request: HttpRequest, rollout_id: int) -> HttpResponse:
    targets = list(
        _visible_targets(request.permset)
        .filter(rollout_id=rollout_id)
        .order_by("planned_at", "environment__organisation__name", "pk")
    )
    if not targets:
        raise Http404("No such rollout")
    rollout = (
        Rollout.objects.select_related("release", "release__product", "created_by")
        .filter(pk=rollout_id)
        .get()
    )
    may_record = request.permset.has(services.DEPLOY_PERMISSION)
    errors: dict[int, list[str]] = {}
    status = 200
    if request.method == "POST":
        if not may_record:
            raise PermissionDenied(_("You may not record deployments."))
        target_id = request.POST.get("target", "")
        target = next((t for t in targets if str(t.pk) == target_id), None)
        if target is None:
            raise Http404("No such upgrade in this rollout")
        action = request.POST.get("action")
        try:
            if action == "record":
                form = UpgradeResultForm(request.POST, zone=target.environment.organisation.zone)
                if not form.is_valid():
                    raise services.RolloutRefused(
                        [str(m) for field in form.errors.values() for m in field]
                    )
                services.record_upgrade(
                    target=target,
                    actor=request.user,
                    result=form.cleaned_data["result"],
                    deployed_at=form.cleaned_data["deployed_at"],
                    notes=form.cleaned_data["notes"],
                )
                messages.success(request, _("Result recorded."))
            elif action == "cancel":
                services.cancel_upgrade(
                    target=target, actor=request.user, reason=request.POST.get("reason", "")
                )
                messages.success(request, _("Upgrade cancelled."))
            else:
                raise Http404("No such action")
        except services.DeploymentRefused as refused:  # rollouts' refusals too
            errors[target.pk] = refused.reasons
            status = 400
        else:
            return redirect("lifecycle:rollout", rollout_id=rollout_id)
    for target in targets:
        target.errors = errors.get(target.pk, [])
    return render(
        request,
        "lifecycle/rollout.html",
        {
            "rollout": rollout,
            "targets": targets,
            "summary": services.rollout_summary(targets),
            "states": PlannedUpgrade.State.choices,
            "results": Deployment.Result.choices,
            "may_record": may_record,
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
    planned = defaultdict(list)
    for target in (
        PlannedUpgrade.objects.filter(
            environment__in=environments, state=PlannedUpgrade.State.PLANNED
        )
        .select_related("rollout__release", "environment__system")
        .order_by("planned_at")
    ):
        planned[target.environment_id].append(target)
    for row in rows:
        row["history"] = history[row["environment"].pk]
        row["planned"] = planned[row["environment"].pk]
    contracts = list(Contract.objects.filter(organisation_id__in=own))
    notes = _release_notes_for(environments, request.user.language)
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
                    "notes": notes.get(org.pk, []),
                    "planned": [
                        t
                        for r in rows
                        if r["environment"].organisation_id == org.pk
                        for t in r["planned"]
                    ],
                }
                for org in orgs
            ],
            "nav": "environments",
        },
    )


RELEASE_NOTES_SHOWN = 10  # per product, newest first


def _release_notes_for(environments: list[Environment], language: str) -> dict[int, list]:
    """Organisation id → the published releases of the products it runs, newest first,
    each with its notes in the reader's language (a release dated later is not out yet)."""
    from django.utils import timezone

    products: dict[int, set[str]] = defaultdict(set)
    for env in environments:
        products[env.organisation_id].add(env.system.product)
    names = set().union(*products.values()) if products else set()
    by_product: dict[str, list] = defaultdict(list)
    for release in (
        Release.objects.filter(product__name__in=names, released_on__lte=timezone.localdate())
        .select_related("product")
        .prefetch_related("translations")
        .order_by("-released_on", "-pk")
    ):
        if len(by_product[release.product.name]) < RELEASE_NOTES_SHOWN:
            by_product[release.product.name].append(
                {"release": release, "notes": notes_in(release, language)}
            )
    return {
        org_id: [
            {"product": name, "releases": by_product[name]}
            for name in sorted(names_)
            if by_product[name]
        ]
        for org_id, names_ in products.items()
    }
