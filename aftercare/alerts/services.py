"""Alerts into incidents: every rule of the alerts app, in one module.

The API (``alerts.api``), the console pages (``alerts.views``) and the command
(``alerts_token``) call these functions and nothing else.

**Who files the request.** An alert is the customer's monitoring speaking for the
customer, so the request is filed the way a customer's own API script files one: by the
integration's reporter (default: the organisation's first active coordinator, else its
first active member), on the API channel, through ``desk.services.open_ticket`` with its
usual checks. Everything the system adds later (firings, resolution, follow-ups) is an
internal system note (``desk.services.system_note``) with no author.

**One request per fingerprint.** Each alert is handled in one short transaction that
first locks its integration's row: alerts of one integration are serialised, so two
identical alerts arriving together cannot both open a request; the partial unique
constraint on the current ``AlertIncident`` of a fingerprint backs this up.

**The workflow.** A resolved alert moves the request to Done only if the integration says
so; the monitoring then acts as the system that did the work (``system`` and ``worker``
roles for this one move, through Backlog/Sprint/Waiting → In progress → Done), so the
desk's workflow table and its SLA effects apply unchanged. A firing within the flap
window after that reopens it (Done → In progress, the table's "Rework").
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_scopes import scope, scopes_disabled

from aftercare.accounts.models import User
from aftercare.accounts.roles import WORKER, PermSet, Role
from aftercare.alerts import formats
from aftercare.alerts.formats import Alert, FormatError
from aftercare.alerts.models import (
    AlertIncident,
    AlertIntegration,
    AlertPayload,
    AlertRoute,
    Severity,
)
from aftercare.desk import services as desk
from aftercare.desk import workflow
from aftercare.desk.models import Category, Channel, Status, Ticket, TicketLink
from aftercare.desk.notes import deferred
from aftercare.lifecycle.models import Environment
from aftercare.ops.maintenance import check_writable
from aftercare.tenancy.models import Membership, Organisation
from aftercare.tenancy.querysets import visible_organisations

log = logging.getLogger(__name__)

TOKEN_SCHEME = "acal_"  # noqa: S105 - a prefix for secret scanners, not a secret
PREFIX_LENGTH = 10
VIEW_PERMISSION = "lifecycle.view_environment"  # every agent: lists and incidents
MANAGE_PERMISSION = "lifecycle.change_environment"  # managers, administrators: tokens
WORKING = (Status.BACKLOG, Status.SPRINT, Status.IN_PROGRESS, Status.WAITING)
# The monitoring's roles for the moves it makes itself (see the module's docstring).
SYSTEM_ROLES = frozenset({workflow.SYSTEM, WORKER})
ENVIRONMENT_LABELS = ("environment", "env", "instance", "host")


class AlertRefused(Exception):
    """A refusal with its HTTP status and stable code; ``message`` is for people."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


# -- tokens --------------------------------------------------------------------------------


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_manage(actor: User, organisation_id: int) -> PermSet:
    permset = PermSet(actor)
    if not permset.is_agent or not permset.has(MANAGE_PERMISSION):
        raise PermissionDenied(_("Only support managers and administrators manage alert tokens."))
    if not permset.sees_organisation(organisation_id):
        raise PermissionDenied(_("You may not manage this organisation's alerts."))
    return permset


def issue(
    *,
    organisation: Organisation,
    name: str,
    actor: User | None,
    environment: Environment | None = None,
    reporter: User | None = None,
    resolve_moves_to_done: bool = False,
) -> tuple[AlertIntegration, str]:
    """Create an integration; return it and its token (the only time the token exists).

    ``actor`` None is the command line (the operator of the machine)."""
    check_writable()
    if actor is not None:
        check_manage(actor, organisation.pk)
    if environment is not None and environment.organisation_id != organisation.pk:
        raise ValidationError({"environment": _("This environment belongs to another customer.")})
    if reporter is not None and not _member_ids(organisation, [reporter.pk]):
        raise ValidationError(
            {"reporter": _("The reporter must be an active member of the organisation.")}
        )
    name = name.strip()[:100] or _("Monitoring")
    secret = TOKEN_SCHEME + secrets.token_urlsafe(32)
    with scope(organisation=[organisation.pk]):
        integration = AlertIntegration.objects.create(
            organisation=organisation,
            environment=environment,
            name=name,
            token_hash=hash_token(secret),
            token_prefix=secret[:PREFIX_LENGTH],
            reporter=reporter,
            resolve_moves_to_done=resolve_moves_to_done,
            created_by=actor,
        )
    log.info("Alert integration %s issued for organisation %s", integration.pk, organisation.pk)
    return integration, secret


def revoke(*, integration: AlertIntegration, actor: User | None) -> AlertIntegration:
    check_writable()
    if actor is not None:
        check_manage(actor, integration.organisation_id)
    if integration.is_active:
        integration.is_active = False
        integration.revoked_at = timezone.now()
        with scope(organisation=[integration.organisation_id]):
            integration.save(update_fields=["is_active", "revoked_at"])
        log.info("Alert integration %s revoked", integration.pk)
    return integration


def authenticate(header: str) -> AlertIntegration:
    """The active integration for an ``Authorization: Bearer`` header; else 401.

    The token is the credential: this is an unscoped lookup by its hash (the request has
    no user and so no organisation scope yet)."""
    scheme, _sep, secret = (header or "").partition(" ")
    if not header:
        raise AlertRefused(
            401,
            "unauthenticated",
            _("Send the integration's token as “Authorization: Bearer <token>”."),
        )
    if scheme.lower() != "bearer" or not secret.strip():
        raise AlertRefused(
            401, "unauthenticated", _("Only “Authorization: Bearer <token>” is understood.")
        )
    secret = secret.strip()
    if not secret.startswith(TOKEN_SCHEME):
        raise AlertRefused(401, "unauthenticated", _("This is not an Aftercare alert token."))
    with scopes_disabled():
        integration = (
            AlertIntegration.objects.select_related("organisation", "environment__system")
            .filter(token_hash=hash_token(secret))
            .first()
        )
    if integration is None:
        raise AlertRefused(401, "unauthenticated", _("Unknown alert token."))
    if not integration.is_active:
        raise AlertRefused(401, "unauthenticated", _("This alert token was revoked."))
    if not integration.organisation.is_active:
        raise AlertRefused(401, "unauthenticated", _("The organisation of this token is inactive."))
    return integration


def check_rate(integration: AlertIntegration) -> None:
    """At most ``AFTERCARE_ALERTS_RATE_PER_MINUTE`` requests per integration and minute
    (a fixed window in the shared cache, atomic ``add`` + ``incr``)."""
    limit = settings.AFTERCARE_ALERTS_RATE_PER_MINUTE
    now = time.time()
    slot = int(now // 60)
    key = f"alerts-rate:{integration.pk}:{slot}"
    cache.add(key, 0, 65)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, 65)
        count = 1
    if count > limit:
        retry = max(1, math.ceil((slot + 1) * 60 - now))
        raise AlertRefused(
            429,
            "rate_limited",
            _("Too many alerts from this integration; try again in %(seconds)d seconds.")
            % {"seconds": retry},
            headers={"Retry-After": str(retry)},
        )


# -- receiving -----------------------------------------------------------------------------


def _keep(
    *,
    integration: AlertIntegration,
    fmt: str,
    body: bytes,
    outcome: str,
    status: int,
    alerts: int = 0,
    error: str = "",
) -> AlertPayload:
    limit = settings.AFTERCARE_ALERTS_KEEP_BYTES
    text = body[:limit].decode("utf-8", errors="replace").replace("\x00", "")
    return AlertPayload.objects.create(
        organisation_id=integration.organisation_id,
        integration=integration,
        format=fmt,
        body=text,
        truncated=len(body) > limit,
        outcome=outcome,
        status_code=status,
        alerts=alerts,
        error=error[:4000],
    )


@dataclass
class Outcome:
    fingerprint: str
    result: str  # opened, updated, reopened, follow_up, resolved, silenced, ignored, rejected
    ticket: str = ""
    error: str = ""

    def as_dict(self) -> dict:
        data = {"fingerprint": self.fingerprint, "result": self.result}
        if self.ticket:
            data["ticket"] = self.ticket
        if self.error:
            data["error"] = self.error
        return data


def receive(*, integration: AlertIntegration, fmt: str, body: bytes) -> dict:
    """Read one request's body and handle each alert in it; the body is kept either way.

    Raises ``AlertRefused`` (400 unreadable JSON, 422 a payload or every alert refused)
    after the body was recorded as rejected."""
    check_writable()
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        message = _("The body is not valid JSON: %(error)s") % {"error": str(exc)[:200]}
        _keep(
            integration=integration,
            fmt=fmt,
            body=body,
            outcome="rejected",
            status=400,
            error=message,
        )
        raise AlertRefused(400, "bad_request", message) from None
    try:
        alerts = formats.parse(fmt, data, integration.organisation.zone)
    except FormatError as exc:
        _keep(
            integration=integration,
            fmt=fmt,
            body=body,
            outcome="rejected",
            status=422,
            error=exc.message,
        )
        raise AlertRefused(422, "validation_error", exc.message) from None
    outcomes = []
    for alert in alerts:
        try:
            outcomes.append(handle(integration=integration, alert=alert))
        except AlertRefused as exc:
            outcomes.append(Outcome(alert.fingerprint, "rejected", error=exc.message))
        except (ValidationError, PermissionDenied) as exc:
            message = "; ".join(getattr(exc, "messages", [str(exc)]))
            outcomes.append(Outcome(alert.fingerprint, "rejected", error=message))
    refused = [o for o in outcomes if o.result == "rejected"]
    outcome = (
        "accepted" if not refused else "rejected" if len(refused) == len(outcomes) else "partial"
    )
    status = 422 if outcome == "rejected" else 200
    errors = "\n".join(f"{o.fingerprint}: {o.error}" for o in refused)
    _keep(
        integration=integration,
        fmt=fmt,
        body=body,
        outcome=outcome,
        status=status,
        alerts=len(alerts),
        error=errors,
    )
    now = timezone.now()
    AlertIntegration.objects.with_scopes_disabled().filter(pk=integration.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(seconds=60))
    ).update(last_used_at=now)
    if outcome == "rejected":
        raise AlertRefused(422, "validation_error", errors)
    return {"outcome": outcome, "alerts": [o.as_dict() for o in outcomes]}


# -- mapping -------------------------------------------------------------------------------


def _by_reference(organisation_id: int, reference: str) -> Environment:
    """An environment of *this* organisation by id or name (or "System: Name"); another
    organisation's environment is answered exactly like one that does not exist."""
    envs = Environment.objects.filter(organisation_id=organisation_id).select_related("system")
    ref = reference.strip()
    found: list[Environment] = []
    if ref.isdigit():
        found = list(envs.filter(pk=int(ref)))
    if not found:
        found = list(envs.filter(name__iexact=ref))
    if not found and ":" in ref:
        system, _sep, name = ref.partition(":")
        found = list(envs.filter(system__name__iexact=system.strip(), name__iexact=name.strip()))
    if len(found) == 1:
        return found[0]
    if found:
        raise AlertRefused(
            422,
            "validation_error",
            _("“%(ref)s” names several environments; give its id or “System: Name”.")
            % {"ref": ref[:100]},
        )
    raise AlertRefused(
        422,
        "validation_error",
        _("No environment “%(ref)s” in this token's organisation.") % {"ref": ref[:100]},
    )


def resolve_environment(integration: AlertIntegration, alert: Alert) -> Environment | None:
    """Where the alert belongs, never outside the token's organisation:

    1. the token's own environment; 2. the environment the alert names (generic
    ``environment``, Zabbix ``environment`` field or tag); 3. the integration's routes
    (label = value); 4. a label ``environment``/``env``/``instance``/``host`` equal to an
    environment's name. None when nothing matched (Alertmanager, Zabbix); the generic
    format must name one when its token is unbound.
    """
    org_id = integration.organisation_id
    if integration.environment_id is not None:
        bound = integration.environment
        if alert.environment and alert.environment.strip() not in (
            str(bound.pk),
            bound.name,
            str(bound),
        ):
            raise AlertRefused(
                422,
                "validation_error",
                _("This token is bound to the environment “%(env)s”.") % {"env": str(bound)},
            )
        return bound
    if alert.environment:
        return _by_reference(org_id, alert.environment)
    if alert.labels:
        routes = AlertRoute.objects.filter(integration=integration).select_related(
            "environment__system"
        )
        for route in routes:
            if (
                alert.labels.get(route.label_key) == route.label_value
                and route.environment.organisation_id == org_id
            ):
                return route.environment
        for key in ENVIRONMENT_LABELS:
            value = alert.labels.get(key)
            if value:
                found = list(
                    Environment.objects.filter(
                        organisation_id=org_id, name__iexact=value
                    ).select_related("system")[:2]
                )
                if len(found) == 1:
                    return found[0]
    if alert.kind == "generic":
        raise AlertRefused(
            422,
            "validation_error",
            _("Name the “environment” (id or name): this token is not bound to one."),
        )
    return None


def _member_ids(organisation: Organisation, ids: list[int]) -> list[int]:
    return list(
        Membership.objects.with_scopes_disabled()
        .filter(organisation=organisation, user_id__in=ids, user__is_active=True)
        .values_list("user_id", flat=True)
    )


def reporter_for(integration: AlertIntegration) -> User:
    """The customer contact incidents are filed for: the integration's reporter while
    they are an active member, else the first coordinator, else the first member."""
    if integration.reporter_id and _member_ids(integration.organisation, [integration.reporter_id]):
        return integration.reporter
    members = (
        Membership.objects.with_scopes_disabled()
        .filter(organisation_id=integration.organisation_id, user__is_active=True)
        .select_related("user")
        .order_by("-role", "pk")  # "customer" < "coordinator": coordinators first
    )
    for member in members:
        if member.role == Role.COORDINATOR:
            return member.user
    first = members.order_by("pk").first()
    if first is None:
        raise AlertRefused(
            422,
            "no_reporter",
            _("The organisation has no active customer contact to file the incident for."),
        )
    return first.user


# -- one alert -----------------------------------------------------------------------------


def _details(alert: Alert, environment: Environment | None) -> str:
    lines = [f"{alert.source}: {alert.summary}"]
    if environment is None:
        lines.append(_("No environment matched: set the token's environment or a route."))
    if alert.details:
        lines += ["", alert.details]
    for title, mapping in (("labels", alert.labels), ("annotations", alert.annotations)):
        if mapping:
            lines += ["", f"{title}:"] + [f"  {k} = {v}" for k, v in sorted(mapping.items())]
    if alert.links:
        lines += ["", *alert.links]
    if alert.excerpt:
        lines += ["", alert.excerpt]
    return "\n".join(lines)[:8000]


def _note(ticket: Ticket, action: str, msgid: str, **params) -> None:
    desk.system_note(ticket=ticket, action=action, note=deferred(msgid, **params))


def _open(
    integration: AlertIntegration, alert: Alert, environment: Environment | None, now: datetime
) -> Ticket:
    reporter = reporter_for(integration)
    description = alert.summary
    if alert.details:
        description += "\n\n" + alert.details
    where = str(environment) if environment is not None else integration.organisation.name
    ticket = desk.open_ticket(
        actor=reporter,
        reporter=reporter,
        organisation=integration.organisation,
        subject=f"[{alert.severity}] {alert.summary} — {where}"[:250],
        description=description,
        category=Category.INCIDENT,
        priority=integration.priority_for(alert.severity),
        channel=Channel.API,
        system=environment.system if environment is not None else None,
        created_at=now,
    )
    _note(
        ticket,
        "alerts.alert.opened",
        gettext_noop("Opened by the monitoring alert %(fingerprint)s:\n%(details)s"),
        fingerprint=alert.fingerprint,
        details=_details(alert, environment),
    )
    return ticket


def _move(ticket: Ticket, target: str, msgid: str, **params) -> bool:
    """A move the monitoring makes, through the workflow table (see the docstring).

    Returns False, having moved nothing, when the table does not allow it (a note is
    written instead by the caller)."""
    ticket = desk._lock(ticket)
    path = [target] if workflow.rule_for(ticket.status, target) else [Status.IN_PROGRESS, target]
    try:
        with transaction.atomic():
            for step in path:
                if ticket.status != step:
                    desk._apply_transition(
                        ticket, None, step, SYSTEM_ROLES, note=deferred(msgid, **params)
                    )
    except workflow.TransitionError as exc:
        log.info("Alert could not move %s to %s: %s", ticket.number, target, exc)
        return False
    return True


def _downtime_wanted(integration: AlertIntegration, alert: Alert) -> bool:
    return alert.downtime or formats.at_least(alert.severity, integration.downtime_from_severity)


def _open_downtime(incident: AlertIncident, alert: Alert, now: datetime) -> None:
    if incident.environment_id is None:
        return
    try:
        from aftercare.availability import services as availability
    except ImportError:  # the availability app is not installed
        return
    started = min(alert.starts_at or now, now)
    try:
        availability.open_downtime(
            environment=incident.environment,
            started_at=started,
            cause=alert.summary[:500],
            fingerprint=incident.fingerprint,
            ticket=incident.ticket,
            source="alert",
        )
    except availability.DowntimeRefused as exc:
        log.warning("Downtime for alert %s not opened: %s", incident.pk, exc)
        return
    incident.downtime_open = True


def _close_downtime(incident: AlertIncident, alert: Alert, now: datetime) -> None:
    if not incident.downtime_open or incident.environment_id is None:
        return
    try:
        from aftercare.availability import services as availability
    except ImportError:
        return
    ended = min(alert.ends_at or now, now)
    try:
        availability.close_downtime(
            environment=incident.environment, fingerprint=incident.fingerprint, ended_at=ended
        )
    except availability.DowntimeRefused as exc:
        log.warning("Downtime for alert %s not closed: %s", incident.pk, exc)
        return
    incident.downtime_open = False


def _silenced(environment: Environment | None, now: datetime) -> bool:
    if environment is None:
        return False
    from aftercare.lifecycle.services import in_window

    return in_window(environment, now) is True


def handle(*, integration: AlertIntegration, alert: Alert, now: datetime | None = None) -> Outcome:
    """One alert: open, add to, resolve, reopen or follow up its incident."""
    now = now or timezone.now()
    if alert.update_only:
        return Outcome(alert.fingerprint, "ignored")
    with scope(organisation=[integration.organisation_id]):
        environment = resolve_environment(integration, alert)
        silenced = alert.firing and _silenced(environment, now)
        for attempt in range(2):
            try:
                with transaction.atomic():
                    return _handle_locked(integration, alert, environment, silenced, now)
            except IntegrityError:
                # Only the unique current incident can clash (another process that does not
                # lock the integration, e.g. an older version during a deploy): read again.
                if attempt:
                    raise
    raise AssertionError("unreachable")  # pragma: no cover


def _handle_locked(
    integration: AlertIntegration,
    alert: Alert,
    environment: Environment | None,
    silenced: bool,
    now: datetime,
) -> Outcome:
    AlertIntegration.objects.select_for_update(of=("self",)).filter(pk=integration.pk).first()
    current = (
        AlertIncident.objects.select_for_update(of=("self",))
        .filter(integration=integration, fingerprint=alert.fingerprint, is_current=True)
        .first()
    )
    if not alert.firing:
        return _resolve(integration, current, alert, now)
    ticket = None
    if current is not None and current.ticket_id is not None:
        from aftercare.desk.merge import resolve_merged

        ticket = resolve_merged(Ticket.objects.get(pk=current.ticket_id))
    if current is None:
        current = _new_incident(integration, alert, environment, now)
        return _fire_new(integration, current, alert, environment, silenced, now)
    if ticket is None:  # every earlier firing was silenced
        _count(current, alert, now)
        return _fire_new(integration, current, alert, environment, silenced, now)
    if ticket.status in WORKING:
        return _fire_again(integration, current, ticket, alert, silenced, now)
    since = current.resolved_at or ticket.status_changed_at
    flap = timedelta(minutes=settings.AFTERCARE_ALERTS_FLAP_MINUTES)
    if ticket.status == Status.DONE and now - since <= flap:
        _count(current, alert, now)
        if silenced:
            current.silenced += 1
            current.save()
            return Outcome(alert.fingerprint, "silenced", ticket.number)
        current.state = AlertIncident.State.FIRING
        current.resolved_at = None
        current.ticket = ticket
        current.last_note_at = now
        flapping = gettext_noop("The monitoring alert %(fingerprint)s fires again (flapping).")
        if not _move(ticket, Status.IN_PROGRESS, flapping, fingerprint=alert.fingerprint):
            _note(ticket, "alerts.alert.fired_again", flapping, fingerprint=alert.fingerprint)
        if _downtime_wanted(integration, alert):
            _open_downtime(current, alert, now)
        current.save()
        return Outcome(alert.fingerprint, "reopened", ticket.number)
    # Closed, or Done too long ago: a new incident that follows the old one.
    AlertIncident.objects.filter(pk=current.pk).update(is_current=False)
    follow = _new_incident(integration, alert, environment, now, follows=current)
    outcome = _fire_new(integration, follow, alert, environment, silenced, now)
    if follow.ticket is not None:
        _link(follow.ticket, ticket)
        return Outcome(alert.fingerprint, "follow_up", follow.ticket.number)
    return outcome


def _new_incident(
    integration: AlertIntegration,
    alert: Alert,
    environment: Environment | None,
    now: datetime,
    follows: AlertIncident | None = None,
) -> AlertIncident:
    return AlertIncident(
        organisation_id=integration.organisation_id,
        integration=integration,
        fingerprint=alert.fingerprint,
        environment=environment,
        follows=follows,
        state=AlertIncident.State.FIRING,
        severity=alert.severity,
        summary=alert.summary[:250],
        first_seen=now,
        last_seen=now,
        count=1,
    )


def _count(incident: AlertIncident, alert: Alert, now: datetime) -> None:
    incident.count += 1
    incident.last_seen = now
    incident.severity = alert.severity
    incident.summary = alert.summary[:250]


def _fire_new(
    integration: AlertIntegration,
    incident: AlertIncident,
    alert: Alert,
    environment: Environment | None,
    silenced: bool,
    now: datetime,
) -> Outcome:
    incident.state = AlertIncident.State.FIRING
    incident.resolved_at = None
    if silenced:
        incident.silenced += 1
        if _downtime_wanted(integration, alert):
            _open_downtime(incident, alert, now)  # planned: inside the window
        incident.save()
        return Outcome(alert.fingerprint, "silenced")
    incident.ticket = _open(integration, alert, environment, now)
    incident.last_note_at = now
    if incident.follows_id is not None:
        _note(
            incident.ticket,
            "alerts.alert.follow_up",
            gettext_noop("Follows %(number)s, opened earlier by the same alert."),
            number=incident.follows.ticket.number if incident.follows.ticket else "",
        )
    if _downtime_wanted(integration, alert):
        _open_downtime(incident, alert, now)
    incident.save()
    return Outcome(alert.fingerprint, "opened", incident.ticket.number)


def _fire_again(
    integration: AlertIntegration,
    incident: AlertIncident,
    ticket: Ticket,
    alert: Alert,
    silenced: bool,
    now: datetime,
) -> Outcome:
    was_resolved = incident.state == AlertIncident.State.RESOLVED
    _count(incident, alert, now)
    incident.ticket = ticket
    incident.state = AlertIncident.State.FIRING
    incident.resolved_at = None
    if silenced:
        incident.silenced += 1
    interval = timedelta(minutes=settings.AFTERCARE_ALERTS_NOTE_MINUTES)
    if was_resolved:
        _note(
            ticket,
            "alerts.alert.fired_again",
            gettext_noop("The monitoring alert %(fingerprint)s fires again (flapping)."),
            fingerprint=alert.fingerprint,
        )
        incident.last_note_at = now
    elif incident.last_note_at is None or now - incident.last_note_at >= interval:
        _note(
            ticket,
            "alerts.alert.repeated",
            gettext_noop("The monitoring alert %(fingerprint)s has fired %(count)d times."),
            fingerprint=alert.fingerprint,
            count=incident.count,
        )
        incident.last_note_at = now
    if (was_resolved or not incident.downtime_open) and _downtime_wanted(integration, alert):
        _open_downtime(incident, alert, now)
    incident.save()
    return Outcome(alert.fingerprint, "silenced" if silenced else "updated", ticket.number)


def _resolve(
    integration: AlertIntegration, incident: AlertIncident | None, alert: Alert, now: datetime
) -> Outcome:
    if incident is None or incident.state == AlertIncident.State.RESOLVED:
        return Outcome(alert.fingerprint, "ignored")
    incident.state = AlertIncident.State.RESOLVED
    incident.resolved_at = min(alert.ends_at or now, now)
    incident.last_seen = now
    _close_downtime(incident, alert, now)
    number = ""
    if incident.ticket_id is not None:
        from aftercare.desk.merge import resolve_merged

        ticket = resolve_merged(Ticket.objects.get(pk=incident.ticket_id))
        number = ticket.number
        resolved = gettext_noop("The monitoring alert %(fingerprint)s resolved.")
        moved = (
            ticket.status in WORKING
            and integration.resolve_moves_to_done
            and _move(ticket, Status.DONE, resolved, fingerprint=alert.fingerprint)
        )
        if not moved and ticket.status in (*WORKING, Status.DONE):
            _note(ticket, "alerts.alert.resolved", resolved, fingerprint=alert.fingerprint)
    incident.save()
    return Outcome(alert.fingerprint, "resolved", number)


def _link(new: Ticket, old: Ticket) -> None:
    """Relate the follow-up to the earlier request (as ``desk.merge.link`` does, written
    by the system: both belong to the integration's organisation)."""
    if new.organisation_id != old.organisation_id:  # pragma: no cover - same integration
        return
    source, target = sorted((new.pk, old.pk))
    if TicketLink.objects.filter(source_id=source, target_id=target).exists():
        return
    TicketLink.objects.create(
        organisation_id=new.organisation_id, source_id=source, target_id=target
    )
    for one, two in ((new, old), (old, new)):
        desk._event(one, None, "desk.ticket.linked", field="link", new=two.number, internal=True)


# -- console -------------------------------------------------------------------------------


def check_view(permset: PermSet) -> None:
    if not permset.is_agent or not permset.has(VIEW_PERMISSION):
        raise PermissionDenied(_("These pages are for the service desk's staff."))


def visible_integrations(permset: PermSet) -> QuerySet[AlertIntegration]:
    check_view(permset)
    return AlertIntegration.objects.filter(
        organisation__in=visible_organisations(permset).values("pk")
    ).select_related("organisation", "environment__system", "created_by", "reporter")


def visible_incidents(permset: PermSet) -> QuerySet[AlertIncident]:
    check_view(permset)
    return AlertIncident.objects.filter(
        organisation__in=visible_organisations(permset).values("pk")
    ).select_related("integration", "environment__system", "ticket", "organisation")


def visible_payloads(permset: PermSet) -> QuerySet[AlertPayload]:
    check_view(permset)
    return AlertPayload.objects.filter(
        organisation__in=visible_organisations(permset).values("pk")
    ).select_related("integration", "organisation")


def add_route(
    *,
    integration: AlertIntegration,
    actor: User,
    label_key: str,
    label_value: str,
    environment: Environment,
) -> AlertRoute:
    check_writable()
    check_manage(actor, integration.organisation_id)
    if environment.organisation_id != integration.organisation_id:
        raise ValidationError({"environment": _("This environment belongs to another customer.")})
    key, value = label_key.strip()[:100], label_value.strip()[:200]
    if not key or not value:
        raise ValidationError(_("Give the label and its value."))
    with scope(organisation=[integration.organisation_id]):
        route, _created = AlertRoute.objects.update_or_create(
            integration=integration,
            label_key=key,
            label_value=value,
            defaults={"environment": environment},
        )
    return route


SEVERITIES = [s.value for s in Severity]
