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

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet
from aftercare.desk.models import Approval, Category, Ticket
from aftercare.lifecycle.models import (
    ChangeLink,
    Deployment,
    Environment,
    MaintenanceWindow,
    Product,
    Release,
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


def approval_state(ticket: Ticket) -> str | None:
    """The customer's answer on a change request: the latest approval that counts.

    Withdrawn approvals do not count; a later request replaces an earlier answer (a
    customer who approved and was then asked again and declined has declined).
    """
    latest = (
        Approval.objects.with_scopes_disabled()
        .filter(ticket_id=ticket.pk)
        .exclude(state=Approval.State.WITHDRAWN)
        .order_by("-requested_at", "-pk")
        .first()
    )
    if latest is None:
        return None
    if latest.state == Approval.State.PENDING and latest.is_expired:
        return "expired"
    return latest.state


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


def _check_change_requests(
    tickets: list[Ticket], environment: Environment, reasons: list[str]
) -> None:
    for ticket in tickets:
        if ticket.organisation_id != environment.organisation_id:
            reasons.append(_("%(number)s belongs to another customer.") % {"number": ticket.number})
            continue
        if ticket.category != Category.CHANGE:
            reasons.append(
                _("%(number)s is not a change request (its category is %(category)s).")
                % {"number": ticket.number, "category": ticket.get_category_display()}
            )
            continue
        if not environment.is_production:
            continue
        state = approval_state(ticket)
        if state == Approval.State.APPROVED:
            continue
        messages = {
            None: _(
                "%(number)s has no customer approval: ask the customer to approve the "
                "production deployment on the request first."
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
        reasons.append(messages.get(state, messages[None]) % {"number": ticket.number})


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
    of the environment's product; nothing is recorded in the future; production only
    after the release succeeded on a test or training environment of the same system,
    unless an emergency change approved by the actor (a manager/admin) with a reason;
    linked tickets are change requests of the same customer, and for production each
    has the customer's granted approval; inside the maintenance windows configured for
    the environment (in the organisation's time zone). A succeeded deployment moves the
    environment's version (and the system's, for production) unless a later successful
    deployment is already recorded.
    """
    permset = PermSet(actor)
    if not permset.is_agent or not permset.has(DEPLOY_PERMISSION):
        raise PermissionDenied(_("You may not record deployments."))
    scope = permset.organisation_scope
    if scope is not None and environment.organisation_id not in scope:
        raise PermissionDenied(_("You may not record deployments for this customer."))
    environment = (
        Environment.objects.select_for_update()
        .select_related("organisation", "system")
        .get(pk=environment.pk)
    )
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
    _check_change_requests(tickets, environment, reasons)
    if in_window(environment, deployed_at) is False:
        local = timezone.localtime(deployed_at, environment.organisation.zone)
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
    if reasons:
        raise DeploymentRefused(reasons)

    deployment = Deployment.objects.create(
        organisation_id=environment.organisation_id,
        environment=environment,
        release=release,
        deployed_at=deployed_at,
        deployed_by=actor,
        result=result,
        previous_version=environment.version,
        notes=notes.strip(),
        is_emergency=emergency,
        emergency_reason=emergency_reason if emergency else "",
        emergency_approved_by=actor if emergency else None,
        emergency_approved_at=now if emergency else None,
        recorded_at=now,
    )
    for ticket in tickets:
        ChangeLink.objects.create(
            organisation_id=environment.organisation_id, deployment=deployment, ticket=ticket
        )
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
    return deployment


def _note_on_tickets(
    deployment: Deployment, environment: Environment, actor: User, tickets: list[Ticket]
) -> None:
    from aftercare.desk.services import system_note

    text = _(
        "%(release)s deployed to %(environment)s (%(kind)s) at %(when)s by %(who)s: %(result)s."
    ) % {
        "release": deployment.release.label,
        "environment": environment.name,
        "kind": environment.get_kind_display(),
        "when": timezone.localtime(deployment.deployed_at, environment.organisation.zone).strftime(
            "%Y-%m-%d %H:%M"
        ),
        "who": actor.get_full_name() or actor.username,
        "result": deployment.get_result_display(),
    }
    if deployment.is_emergency:
        text += "\n" + _("Emergency change approved by %(who)s: %(reason)s") % {
            "who": actor.get_full_name() or actor.username,
            "reason": deployment.emergency_reason,
        }
    for ticket in tickets:
        system_note(ticket=ticket, action="lifecycle.deployment.recorded", note=text)


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
    rows = []
    for env in environments:
        product = products.get(env.system.product)
        newest = latest.get(product.pk) if product else None
        key = env.current_key
        behind = newest is not None and (key is None or key < newest.key)
        rows.append({"environment": env, "latest": newest, "behind": behind})
    return rows


def visible_environments(permset: PermSet):
    """Environments of the organisations the user may see (the scope enforces it too)."""
    from aftercare.tenancy.querysets import visible_organisations

    return Environment.objects.filter(
        organisation__in=visible_organisations(permset).values("pk")
    ).select_related("organisation", "system", "current_release", "current_release__product")
