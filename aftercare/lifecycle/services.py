"""Recording deployments: every rule about what may go where, in one function.

``deploy`` is the only code that writes a ``Deployment`` or moves an environment's
version. Views, demo data and tests call it, so a rule holds everywhere or nowhere. A
refused deployment raises ``DeploymentRefused`` with every reason that applies (the
person can fix them all at once) and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet
from aftercare.desk.models import Approval, Category, Ticket
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
    Rollout,
)
from aftercare.tenancy.models import System

DEPLOY_PERMISSION = "lifecycle.add_deployment"
EMERGENCY_PERMISSION = "lifecycle.approve_emergency_deployment"
# A recorded time may be this far ahead of the server's clock (clocks drift).
CLOCK_SKEW = timedelta(minutes=5)


class DeploymentRefused(Exception):
    """The deployment breaks one or more rules; ``reasons`` says which, for the person."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def windows_for(environment: Environment) -> list[MaintenanceWindow]:
    """The maintenance windows that bind deployments to ``environment`` (may be none).

    The environment's own windows win; without them, a production environment follows
    the windows of its system's contract.
    """
    own = list(MaintenanceWindow.objects.filter(environment=environment))
    if own or not environment.is_production or environment.system.contract_id is None:
        return own
    return list(
        MaintenanceWindow.objects.filter(
            contract_id=environment.system.contract_id, environment__isnull=True
        )
    )


def in_window(environment: Environment, moment: datetime) -> bool | None:
    """True/False when windows are configured, None when the environment has none."""
    windows = windows_for(environment)
    if not windows:
        return None
    local = timezone.localtime(moment, environment.organisation.zone)
    return any(w.contains(local) for w in windows)


def approval_state(ticket: Ticket, release: Release | None = None) -> str | None:
    """The customer's answer on a change request: the latest approval that counts.

    Withdrawn approvals do not count; a later request replaces an earlier answer (a
    customer who approved and was then asked again and declined has declined). With a
    ``release``, only approvals that can stand for it count (``usable_approval``).
    """
    state, _approval = usable_approval(ticket, release)
    return state


def usable_approval(
    ticket: Ticket, release: Release | None = None
) -> tuple[str | None, Approval | None]:
    """The latest approval on ``ticket`` that may stand for ``release``, and its state.

    An approval bound to a release (``ReleaseApproval``) stands only for that release; an
    unbound one stands for the first release that goes to production with it, never for
    another (an approval is consent to one change, not a standing licence).
    """
    rows = (
        Approval.objects.with_scopes_disabled()
        .filter(ticket_id=ticket.pk)
        .exclude(state=Approval.State.WITHDRAWN)
        .order_by("-requested_at", "-pk")
    )
    if release is not None:
        bindings = dict(
            ReleaseApproval.objects.with_scopes_disabled()
            .filter(approval__ticket_id=ticket.pk)
            .values_list("approval_id", "release_id")
        )
        used = dict(
            ChangeLink.objects.with_scopes_disabled()
            .filter(
                ticket_id=ticket.pk,
                approval__isnull=False,
                deployment__environment__kind=Environment.Kind.PRODUCTION,
            )
            .values_list("approval_id", "deployment__release_id")
        )
    for approval in rows:
        if release is not None:
            bound = bindings.get(approval.pk)
            if bound is not None and bound != release.pk:
                continue
            if bound is None and used.get(approval.pk, release.pk) != release.pk:
                continue
        if approval.state == Approval.State.PENDING and approval.is_expired:
            return "expired", approval
        return approval.state, approval
    return None, None


def needs_approval(environment: Environment) -> bool:
    """Whether every production change here needs the customer's approval (a rule set on
    the environment or on its system's contract)."""
    if not environment.is_production:
        return False
    if environment.needs_approval:
        return True
    contract = environment.system.contract
    return bool(contract and contract.production_changes_need_approval)


def product_for(system: System) -> Product | None:
    return Product.objects.filter(name=system.product).first()


def _proved(release: Release, environment: Environment, before: datetime) -> bool:
    return Deployment.objects.filter(
        release=release,
        environment__system_id=environment.system_id,
        environment__kind__in=Environment.PROVING_KINDS,
        result=Deployment.Result.SUCCEEDED,
        deployed_at__lte=before,
    ).exists()


# Requests a deployment may deliver: changes, and the incidents and problems it fixes.
DELIVERABLE = (Category.CHANGE, Category.INCIDENT, Category.PROBLEM)


def _check_change_requests(
    tickets: list[Ticket], environment: Environment, release: Release, reasons: list[str]
) -> dict[int, Approval]:
    """Check the linked requests; return the approval each production change stands on."""
    approvals: dict[int, Approval] = {}
    for ticket in tickets:
        if ticket.organisation_id != environment.organisation_id:
            reasons.append(_("%(number)s belongs to another customer.") % {"number": ticket.number})
            continue
        if ticket.category not in DELIVERABLE:
            reasons.append(
                _(
                    "%(number)s is a %(category)s: a deployment delivers change requests, "
                    "incidents and problems."
                )
                % {"number": ticket.number, "category": ticket.get_category_display()}
            )
            continue
        if not environment.is_production or ticket.category != Category.CHANGE:
            continue
        state, approval = usable_approval(ticket, release)
        if state == Approval.State.APPROVED:
            approvals[ticket.pk] = approval
            continue
        messages = {
            None: _(
                "%(number)s has no customer approval for %(release)s: ask the customer to "
                "approve the production deployment first."
            ),
            Approval.State.PENDING: _(
                "%(number)s: the customer has not answered the approval request yet."
            ),
            "expired": _("%(number)s: the customer's approval request expired unanswered."),
            Approval.State.DECLINED: _(
                "%(number)s: the customer declined the approval; a production deployment "
                "needs a granted approval."
            ),
        }
        reasons.append(
            messages.get(state, messages[None])
            % {"number": ticket.number, "release": release.label}
        )
    return approvals


def _version_before(environment: Environment, deployed_at: datetime) -> str:
    """The version the environment ran just before ``deployed_at`` (back-dated deployments
    included): the last success before it, else the starting state the first recorded
    deployment found, else what the environment runs now."""
    earlier = (
        Deployment.objects.filter(
            environment=environment,
            result=Deployment.Result.SUCCEEDED,
            deployed_at__lt=deployed_at,
        )
        .select_related("release")
        .order_by("-deployed_at", "-pk")
        .first()
    )
    if earlier is not None:
        return earlier.release.label
    first = Deployment.objects.filter(environment=environment).order_by("deployed_at", "pk").first()
    return first.previous_version if first is not None else environment.version


def delivered_requests(
    release: Release, environment: Environment, linked: list[Ticket]
) -> list[Ticket]:
    """What a success of ``release`` on this production environment delivers: the linked
    requests, and the customer's open requests marked as delivered by this release or an
    earlier one of the same product."""
    from aftercare.desk.models import CLOSED_STATUSES, Status

    marked = (
        DeliveredRequest.objects.filter(
            organisation_id=environment.organisation_id, release__product_id=release.product_id
        )
        .exclude(ticket__status__in=(*CLOSED_STATUSES, Status.RELEASED))
        .select_related("release", "ticket")
    )
    seen = {t.pk for t in linked}
    result = list(linked)
    for row in marked.order_by("ticket_id"):
        if row.release.key <= release.key and row.ticket_id not in seen:
            seen.add(row.ticket_id)
            result.append(row.ticket)
    return result


@transaction.atomic
def deploy(
    *,
    release: Release,
    environment: Environment,
    actor: User,
    result: str,
    deployed_at: datetime | None = None,
    change_requests: Iterable[Ticket] = (),
    emergency: bool = False,
    emergency_reason: str = "",
    notes: str = "",
) -> Deployment:
    """Record that ``release`` went to ``environment``, if every rule allows it.

    Rules: the actor may record deployments and reach the organisation; the release is
    of the environment's product; nothing is recorded in the future or before the
    release's date; production only after the release succeeded on a test or training
    environment of the same system, unless an emergency change approved by the actor (a
    manager/admin) with a reason; linked requests are change requests, incidents or
    problems of the same customer, and for production each change request has the
    customer's granted approval of this release (an approval stands for one release);
    where the environment or its contract says so, a production deployment needs such an
    approved change request; inside the maintenance windows configured for the
    environment (in the organisation's time zone).

    A succeeded deployment moves the environment's version (and the system's, for
    production) unless a later successful deployment is already recorded. A succeeded
    production deployment delivers its requests (``delivered_requests``): they move to
    Released, their clocks stop and their reporters are told, with the version and the
    release notes in their language.
    """
    permset = PermSet(actor)
    if not permset.is_agent or not permset.has(DEPLOY_PERMISSION):
        raise PermissionDenied(_("You may not record deployments."))
    scope = permset.organisation_scope
    if scope is not None and environment.organisation_id not in scope:
        raise PermissionDenied(_("You may not record deployments for this customer."))
    environment = (
        Environment.objects.select_for_update(of=("self",))
        .select_related("organisation", "system", "system__contract")
        .get(pk=environment.pk)
    )
    zone = environment.organisation.zone
    now = timezone.now()
    deployed_at = deployed_at or now
    emergency_reason = emergency_reason.strip()
    tickets = list(change_requests)
    reasons: list[str] = []

    if result not in Deployment.Result.values:
        reasons.append(_("Choose the result of the deployment."))
    if release.product.name != environment.system.product:
        reasons.append(
            _("%(release)s is a release of %(product)s; this environment runs %(runs)s.")
            % {
                "release": release.label,
                "product": release.product.name,
                "runs": environment.system.product,
            }
        )
    if deployed_at > now + CLOCK_SKEW:
        reasons.append(_("A deployment cannot be recorded in the future."))
    elif timezone.localtime(deployed_at, zone).date() < release.released_on:
        reasons.append(
            _("%(release)s is released on %(date)s: it cannot be deployed before that.")
            % {"release": release.label, "date": release.released_on.isoformat()}
        )
    if emergency:
        if not permset.has(EMERGENCY_PERMISSION):
            reasons.append(
                _(
                    "An emergency change must be approved by a support manager or an "
                    "administrator: ask one of them to record it."
                )
            )
        if not emergency_reason:
            reasons.append(_("Give the reason for the emergency change."))
    if (
        environment.is_production
        and not emergency
        and not _proved(release, environment, deployed_at)
    ):
        reasons.append(
            _(
                "%(release)s has not yet succeeded on a test or training environment of "
                "%(system)s. Deploy it there first, or record an approved emergency change."
            )
            % {"release": release.label, "system": environment.system.name}
        )
    approvals = _check_change_requests(tickets, environment, release, reasons)
    if needs_approval(environment) and not approvals and not reasons:
        reasons.append(
            _(
                "Production changes of %(customer)s need the customer's approval: link the "
                "change request on which a coordinator approved %(release)s."
            )
            % {"customer": environment.organisation.name, "release": release.label}
        )
    if in_window(environment, deployed_at) is False:
        local = timezone.localtime(deployed_at, zone)
        reasons.append(
            _(
                "%(when)s (%(zone)s) is outside the maintenance windows of this environment: "
                "%(windows)s."
            )
            % {
                "when": local.strftime("%Y-%m-%d %H:%M"),
                "zone": environment.organisation.time_zone,
                "windows": ", ".join(str(w) for w in windows_for(environment)),
            }
        )
    delivers = environment.is_production and result == Deployment.Result.SUCCEEDED
    delivered = delivered_requests(release, environment, tickets) if delivers else []
    if delivers and not reasons:
        _check_deliverable(delivered, reasons)
    if reasons:
        raise DeploymentRefused(reasons)

    deployment = Deployment.objects.create(
        organisation_id=environment.organisation_id,
        environment=environment,
        release=release,
        deployed_at=deployed_at,
        deployed_by=actor,
        result=result,
        previous_version=_version_before(environment, deployed_at),
        notes=notes.strip(),
        is_emergency=emergency,
        emergency_reason=emergency_reason if emergency else "",
        emergency_approved_by=actor if emergency else None,
        emergency_approved_at=now if emergency else None,
        recorded_at=now,
    )
    for ticket in tickets:
        ChangeLink.objects.create(
            organisation_id=environment.organisation_id,
            deployment=deployment,
            ticket=ticket,
            approval=approvals.get(ticket.pk),
        )
    if result == Deployment.Result.SUCCEEDED:
        # A later deployment recorded earlier found this version before it.
        Deployment.objects.filter(
            pk=Deployment.objects.filter(environment=environment, deployed_at__gt=deployed_at)
            .exclude(pk=deployment.pk)
            .order_by("deployed_at", "pk")
            .values("pk")[:1]
        ).update(previous_version=release.label)
    moved = result == Deployment.Result.SUCCEEDED and not (
        Deployment.objects.filter(
            environment=environment,
            result=Deployment.Result.SUCCEEDED,
            deployed_at__gt=deployed_at,
        ).exists()
    )
    if moved:
        environment.current_release = release
        environment.version = release.label
        environment.save(update_fields=["current_release", "version"])
        if environment.is_production:
            System.objects.filter(pk=environment.system_id).update(version=release.label)
    _note_on_tickets(deployment, environment, actor, tickets)
    _deliver(deployment, environment, actor, delivered, linked={t.pk for t in tickets})
    return deployment


def _check_deliverable(tickets: list[Ticket], reasons: list[str]) -> None:
    """A request that waits for the customer's approval of its release cannot be delivered
    behind their back."""
    from aftercare.desk.approvals import blocking
    from aftercare.desk.models import Status

    for ticket in tickets:
        waiting = blocking(ticket, Status.RELEASED)
        if waiting is not None:
            reasons.append(
                _("%(number)s waits for the customer's approval before its release: %(action)s")
                % {"number": ticket.number, "action": waiting.action}
            )


def _deliver(
    deployment: Deployment,
    environment: Environment,
    actor: User,
    tickets: list[Ticket],
    *,
    linked: set[int],
) -> None:
    from aftercare.desk.notes import deferred
    from aftercare.desk.services import deliver

    release = deployment.release
    note = deferred(
        gettext_noop("Delivered with %(product)s %(release)s on %(environment)s."),
        product=release.product.name,
        release=release.label,
        environment=environment.name,
    )
    for ticket in tickets:
        if ticket.pk not in linked:
            ChangeLink.objects.get_or_create(
                organisation_id=environment.organisation_id, deployment=deployment, ticket=ticket
            )
        deliver(
            ticket=ticket,
            actor=actor,
            note=note,
            at=deployment.recorded_at,
            delivery=deployment,
        )


def _note_on_tickets(
    deployment: Deployment, environment: Environment, actor: User, tickets: list[Ticket]
) -> None:
    from aftercare.desk.notes import deferred, label
    from aftercare.desk.services import system_note

    params = {
        "release": deployment.release.label,
        "environment": environment.name,
        "kind": label(Environment.Kind(environment.kind).label),
        "when": timezone.localtime(deployment.deployed_at, environment.organisation.zone).strftime(
            "%Y-%m-%d %H:%M"
        ),
        "who": actor.get_full_name() or actor.username,
        "result": label(Deployment.Result(deployment.result).label),
    }
    if deployment.is_emergency:
        text = deferred(
            gettext_noop(
                "%(release)s deployed to %(environment)s (%(kind)s) at %(when)s by %(who)s: "
                "%(result)s.\nEmergency change approved by %(who)s: %(reason)s"
            ),
            reason=deployment.emergency_reason,
            **params,
        )
    else:
        text = deferred(
            gettext_noop(
                "%(release)s deployed to %(environment)s (%(kind)s) at %(when)s by %(who)s: "
                "%(result)s."
            ),
            **params,
        )
    for ticket in tickets:
        system_note(ticket=ticket, action="lifecycle.deployment.recorded", note=text)


# -- what a release delivers, and the customer's consent to it ----------------------------


def _check_staff_for(actor: User, organisation_id: int, permission: str, message) -> PermSet:
    permset = PermSet(actor)
    if not permset.is_agent or not permset.has(permission):
        raise PermissionDenied(message)
    scope = permset.organisation_scope
    if scope is not None and organisation_id not in scope:
        raise PermissionDenied(message)
    return permset


@transaction.atomic
def mark_delivered(*, release: Release, ticket: Ticket, actor: User) -> DeliveredRequest:
    """Record that ``release`` carries the fix or change of ``ticket``.

    The request moves to Released when the release (or a later one of its product)
    succeeds on its customer's production environment.
    """
    from django.core.exceptions import ValidationError

    _check_staff_for(
        actor,
        ticket.organisation_id,
        DEPLOY_PERMISSION,
        _("You may not say what a release delivers for this customer."),
    )
    if not PermSet(actor).may_view_ticket(ticket):
        raise PermissionDenied(_("You may not say what a release delivers for this customer."))
    if ticket.category not in DELIVERABLE:
        raise ValidationError(
            _(
                "%(number)s is a %(category)s: a release delivers change requests, incidents "
                "and problems."
            )
            % {"number": ticket.number, "category": ticket.get_category_display()}
        )
    runs = set(
        System.objects.filter(organisation_id=ticket.organisation_id).values_list(
            "product", flat=True
        )
    )
    if release.product.name not in runs:
        raise ValidationError(
            _("%(customer)s runs no system of %(product)s.")
            % {"customer": ticket.organisation.name, "product": release.product.name}
        )
    row, created = DeliveredRequest.objects.get_or_create(
        release=release,
        ticket=ticket,
        defaults={"organisation_id": ticket.organisation_id, "added_by": actor},
    )
    if created:
        from aftercare.desk.notes import deferred
        from aftercare.desk.services import system_note

        system_note(
            ticket=ticket,
            action="lifecycle.release.delivers",
            note=deferred(
                gettext_noop("To be delivered with %(product)s %(release)s."),
                product=release.product.name,
                release=release.label,
            ),
        )
    return row


@transaction.atomic
def unmark_delivered(*, row: DeliveredRequest, actor: User) -> None:
    _check_staff_for(
        actor,
        row.organisation_id,
        DEPLOY_PERMISSION,
        _("You may not say what a release delivers for this customer."),
    )
    row.delete()


def ask_release_approval(
    *, ticket: Ticket, release: Release, environment: Environment, actor: User
) -> Approval:
    """Ask the customer's coordinators to approve ``release`` going to ``environment``,
    on change request ``ticket``; the approval then stands for that release only."""
    from django.core.exceptions import ValidationError

    from aftercare.desk import approvals

    if ticket.organisation_id != environment.organisation_id:
        raise ValidationError(_("The request and the environment belong to different customers."))
    if release.product.name != environment.system.product:
        raise ValidationError(
            _("%(release)s is a release of %(product)s; this environment runs %(runs)s.")
            % {
                "release": release.label,
                "product": release.product.name,
                "runs": environment.system.product,
            }
        )
    with transaction.atomic():
        approval = approvals.request(
            ticket=ticket,
            actor=actor,
            action=_("Deploy %(product)s %(release)s to %(environment)s (%(kind)s).")
            % {
                "product": release.product.name,
                "release": release.label,
                "environment": environment.name,
                "kind": environment.get_kind_display(),
            },
        )
        ReleaseApproval.objects.create(
            organisation_id=ticket.organisation_id,
            approval=approval,
            release=release,
            environment=environment,
        )
    return approval


# -- reading: who runs what, and who is behind -------------------------------------------


def latest_releases() -> dict[int, Release]:
    """Product id → its latest release (highest version, service packs included)."""
    best: dict[int, Release] = {}
    for release in Release.objects.select_related("product"):
        current = best.get(release.product_id)
        if current is None or release.key > current.key:
            best[release.product_id] = release
    return best


def version_rows(environments: Iterable[Environment]) -> list[dict]:
    """Each environment with the latest release of its product and whether it is behind.

    An environment with no known version is reported as behind when its product has a
    release: nobody can tell it is current.
    """
    latest = latest_releases()
    products = {p.name: p for p in Product.objects.all()}
    environments = list(environments)
    backups = {e.system_id for e in environments if e.kind == Environment.Kind.BACKUP}
    production = dict(
        Environment.objects.filter(system_id__in=backups, kind=Environment.Kind.PRODUCTION)
        .order_by("pk")
        .values_list("system_id", "version")
    )
    rows = []
    for env in environments:
        product = products.get(env.system.product)
        newest = latest.get(product.pk) if product else None
        key = env.current_key
        behind = newest is not None and (key is None or key < newest.key)
        drift = (
            env.kind == Environment.Kind.BACKUP
            and env.system_id in production
            and production[env.system_id] != env.version
        )
        rows.append(
            {
                "environment": env,
                "latest": newest,
                "behind": behind,
                # A failover that runs another version than production is no failover.
                "drift": drift,
                "production_version": production.get(env.system_id, "") if drift else "",
            }
        )
    return rows


def visible_releases(permset: PermSet):
    """The vendor's catalogue as the person may see it: everything for an unrestricted
    agent; for an agent restricted to some customers, the releases of the products those
    customers run (another customer's product line is theirs to know, not this agent's)."""
    rows = Release.objects.select_related("product")
    scope = permset.organisation_scope
    if scope is None:
        return rows
    products = System.objects.filter(organisation_id__in=scope).values("product")
    return rows.filter(product__name__in=products)


def visible_environments(permset: PermSet):
    """Environments of the organisations the user may see (the scope enforces it too)."""
    from aftercare.tenancy.querysets import visible_organisations

    return Environment.objects.filter(
        organisation__in=visible_organisations(permset).values("pk")
    ).select_related("organisation", "system", "current_release", "current_release__product")


def rollout(release: Release, permset: PermSet) -> list[dict]:
    """Where ``release`` stands at each customer environment of its product that the
    person may see: its latest deployment there (succeeded, failed, rolled back, or
    none) and whether the environment runs it or something later."""
    environments = list(visible_environments(permset).filter(system__product=release.product.name))
    latest: dict[int, Deployment] = {}
    for deployment in (
        Deployment.objects.filter(release=release, environment__in=environments)
        .select_related("deployed_by")
        .order_by("deployed_at", "pk")
    ):
        latest[deployment.environment_id] = deployment
    planned = {
        t.environment_id: t
        for t in PlannedUpgrade.objects.filter(
            rollout__release=release,
            environment__in=environments,
            state=PlannedUpgrade.State.PLANNED,
        ).order_by("-planned_at")
    }
    kinds = [k for k, _label in Environment.Kind.choices]
    rows = []
    for env in environments:
        key = env.current_key
        rows.append(
            {
                "environment": env,
                "deployment": latest.get(env.pk),
                "planned": planned.get(env.pk),
                "has_it": key is not None and key >= release.key,
            }
        )
    rows.sort(
        key=lambda r: (
            r["environment"].organisation.name,
            r["environment"].system.name,
            kinds.index(r["environment"].kind),
            r["environment"].name,
        )
    )
    return rows


# -- rollouts: one release, many customers ------------------------------------------------

WINDOW_SEARCH_DAYS = 14  # how far after the planned date the next window is looked for


def first_window_opening(environment: Environment, day) -> datetime | None:
    """When the first maintenance window of ``environment`` opens on or after ``day``
    (in the organisation's time zone), or None when it has none in the next two weeks."""
    windows = windows_for(environment)
    zone = environment.organisation.zone
    for offset in range(WINDOW_SEARCH_DAYS):
        current = day + timedelta(days=offset)
        starts = sorted(w.starts_at for w in windows if w._opens_on(current))
        if starts:
            return datetime.combine(current, starts[0], tzinfo=zone)
    return None


class RolloutRefused(DeploymentRefused):
    """A rollout plan, an upgrade's result or its cancelling breaks rules (``reasons``)."""


@transaction.atomic
def plan_rollout(
    *,
    release: Release,
    environments: Iterable[Environment],
    day,
    actor: User,
    at_time=None,
    notes: str = "",
) -> Rollout:
    """Plan ``release`` for each environment on ``day`` (or its next maintenance window).

    Each environment: the person may deploy for its customer; it runs the release's
    product and not yet this release or a later one; it has no other open plan for this
    release. The day is not in the past (customer's zone) nor before the release date;
    where the environment has maintenance windows the upgrade is planned at the first
    window opening on or after the day, otherwise at ``at_time``. All or nothing: every
    reason is listed.
    """
    from datetime import time as dtime

    from aftercare.ops.maintenance import check_writable

    check_writable()
    permset = PermSet(actor)
    if not permset.is_agent or not permset.has(DEPLOY_PERMISSION):
        raise PermissionDenied(_("You may not plan upgrades."))
    scope = permset.organisation_scope
    environments = list(
        Environment.objects.filter(pk__in=[e.pk for e in environments])
        .select_related("organisation", "system", "current_release")
        .order_by("organisation__name", "system__name", "kind", "name")
    )
    reasons: list[str] = []
    if not environments:
        reasons.append(_("Choose at least one environment."))
    if day < release.released_on:
        reasons.append(
            _("%(release)s is released on %(date)s: plan it on that day or later.")
            % {"release": release.label, "date": release.released_on.isoformat()}
        )
    already = set(
        PlannedUpgrade.objects.filter(
            rollout__release=release,
            environment__in=environments,
            state=PlannedUpgrade.State.PLANNED,
        ).values_list("environment_id", flat=True)
    )
    plans: list[tuple[Environment, datetime]] = []
    for env in environments:
        name = f"{env.organisation.name} · {env.system.name}: {env.name}"
        if scope is not None and env.organisation_id not in scope:
            raise PermissionDenied(_("You may not plan upgrades for this customer."))
        if env.system.product != release.product.name:
            reasons.append(
                _("%(env)s runs %(runs)s, not %(product)s.")
                % {"env": name, "runs": env.system.product, "product": release.product.name}
            )
            continue
        key = env.current_key
        if key is not None and key >= release.key:
            reasons.append(
                _("%(env)s already runs %(version)s.") % {"env": name, "version": env.version}
            )
            continue
        if env.pk in already:
            reasons.append(
                _("%(env)s already has an upgrade to %(release)s planned.")
                % {"env": name, "release": release.label}
            )
            continue
        zone = env.organisation.zone
        if day < timezone.localdate(timezone=zone):
            reasons.append(
                _("%(env)s: %(date)s is in the past.") % {"env": name, "date": day.isoformat()}
            )
            continue
        if windows_for(env):
            when = first_window_opening(env, day)
            if when is None:
                reasons.append(
                    _("%(env)s has no maintenance window within two weeks of %(date)s.")
                    % {"env": name, "date": day.isoformat()}
                )
                continue
        else:
            when = datetime.combine(day, at_time or dtime(9, 0), tzinfo=zone)
        plans.append((env, when))
    if reasons:
        raise RolloutRefused(reasons)
    rollout = Rollout.objects.create(release=release, notes=notes.strip(), created_by=actor)
    for env, when in plans:
        PlannedUpgrade.objects.create(rollout=rollout, environment=env, planned_at=when)
    return rollout


@transaction.atomic
def record_upgrade(
    *,
    target: PlannedUpgrade,
    actor: User,
    result: str,
    deployed_at: datetime | None = None,
    notes: str = "",
) -> Deployment:
    """Record what came of a planned upgrade: a deployment under every rule of ``deploy``."""
    target = PlannedUpgrade.objects.select_for_update().get(pk=target.pk)
    if target.state != PlannedUpgrade.State.PLANNED:
        raise RolloutRefused([_("This upgrade is no longer planned: its result is recorded.")])
    deployment = deploy(
        release=target.rollout.release,
        environment=target.environment,
        actor=actor,
        result=result,
        deployed_at=deployed_at,
        notes=notes,
    )
    target.deployment = deployment
    target.state = result
    target.save(update_fields=["deployment", "state"])
    return deployment


@transaction.atomic
def cancel_upgrade(*, target: PlannedUpgrade, actor: User, reason: str) -> None:
    from aftercare.ops.maintenance import check_writable

    check_writable()
    _check_staff_for(
        actor, target.organisation_id, DEPLOY_PERMISSION, _("You may not change this plan.")
    )
    reason = reason.strip()
    if not reason:
        raise RolloutRefused([_("Give the reason for cancelling the upgrade.")])
    target = PlannedUpgrade.objects.select_for_update().get(pk=target.pk)
    if target.state != PlannedUpgrade.State.PLANNED:
        raise RolloutRefused([_("This upgrade is no longer planned: its result is recorded.")])
    target.state = PlannedUpgrade.State.CANCELLED
    target.cancel_reason = reason[:300]
    target.save(update_fields=["state", "cancel_reason"])


def rollout_summary(targets: Iterable[PlannedUpgrade]) -> dict[str, int]:
    counts = {state: 0 for state, _label in PlannedUpgrade.State.choices}
    for target in targets:
        counts[target.state] += 1
    return counts
