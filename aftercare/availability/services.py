"""Recording downtime: every rule about a ``Downtime`` row, in one module.

Two kinds of writer call it:

* monitoring alerts (``aftercare.alerts``) through ``open_downtime`` / ``close_downtime``
  / ``link_incident``: a trusted system path, idempotent per (environment, fingerprint)
  so that a repeated or re-delivered alert never opens a second record;
* staff through ``record_downtime`` / ``update_downtime`` / ``end_downtime``: these
  check the person's permission and organisation restriction and refuse a record that
  overlaps another one of the same environment (``DowntimeRefused``, with the reason).

Overlaps. A person editing by hand is refused an overlap (the message names the record
to edit instead), so hand-made records never double up. Alerts with different
fingerprints may overlap (the database and the web server can be down at once and end
apart); the report takes the union of the intervals, so overlapping time never counts
twice (``reports``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_scopes import scope

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet
from aftercare.availability.models import Downtime
from aftercare.desk.models import Ticket
from aftercare.lifecycle.models import Environment
from aftercare.ops.maintenance import check_writable

VIEW_PERMISSION = "availability.view_downtime"
RECORD_PERMISSION = "availability.change_downtime"
# A recorded time may be this far ahead of the server's clock (clocks drift).
CLOCK_SKEW = timedelta(minutes=5)


class DowntimeRefused(Exception):
    """The downtime breaks one or more rules; ``reasons`` says which, for the person."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def _scope(environment: Environment):
    # Callers may be a request (already scoped), a job or the alerts receiver.
    return scope(organisation=[environment.organisation_id])


def planned_by_windows(environment: Environment, moment: datetime) -> bool:
    """Whether a downtime starting at ``moment`` is planned: it starts inside one of the
    environment's maintenance windows (no windows configured: unplanned)."""
    from aftercare.lifecycle.services import in_window

    with _scope(environment):
        return in_window(environment, moment) is True


def _note_link(downtime: Downtime, ticket: Ticket) -> None:
    from aftercare.desk.notes import deferred
    from aftercare.desk.services import system_note

    environment = downtime.environment
    system_note(
        ticket=ticket,
        action="availability.downtime.linked",
        note=deferred(
            gettext_noop("Linked to the downtime of %(environment)s that started %(when)s."),
            environment=str(environment),
            when=timezone.localtime(downtime.started_at, environment.organisation.zone).strftime(
                "%Y-%m-%d %H:%M"
            ),
        ),
    )


def link_incident(downtime: Downtime, ticket: Ticket) -> None:
    """Link a request (usually the incident an alert opened) to a downtime (idempotent).

    The request must belong to the downtime's organisation: a link may never reach into
    another customer's requests.
    """
    if ticket.organisation_id != downtime.organisation_id:
        raise DowntimeRefused([_("The request belongs to another customer.")])
    check_writable()
    with scope(organisation=[downtime.organisation_id]), transaction.atomic():
        if downtime.incidents.filter(pk=ticket.pk).exists():
            return
        downtime.incidents.add(ticket)
        _note_link(downtime, ticket)


def _open_for(environment: Environment, fingerprint: str) -> Downtime | None:
    return (
        Downtime.objects.select_for_update(of=("self",))
        .filter(environment=environment, fingerprint=fingerprint, ended_at__isnull=True)
        .first()
    )


def open_downtime(
    *,
    environment: Environment,
    started_at: datetime,
    cause: str,
    fingerprint: str = "",
    ticket: Ticket | None = None,
    source: str = "alert",
    actor: User | None = None,
) -> Downtime:
    """Open a downtime, or return the one already open for (environment, fingerprint).

    The system entry point for alerts: the caller has already authenticated the alert.
    ``planned`` follows the maintenance windows at ``started_at``. A ``ticket`` given is
    linked (also to an already open downtime). An empty ``fingerprint`` always opens a
    new record.
    """
    if timezone.is_naive(started_at):
        raise DowntimeRefused([_("The start needs a time zone.")])
    if started_at > timezone.now() + CLOCK_SKEW:
        raise DowntimeRefused([_("A downtime cannot start in the future.")])
    if source not in Downtime.Source.values:
        raise DowntimeRefused([_("Unknown source of a downtime.")])
    fingerprint = (fingerprint or "")[:200]
    check_writable()
    planned = planned_by_windows(environment, started_at)
    with _scope(environment):
        for _attempt in range(2):
            try:
                with transaction.atomic():
                    existing = _open_for(environment, fingerprint) if fingerprint else None
                    if existing is None:
                        existing = Downtime.objects.create(
                            environment=environment,
                            started_at=started_at,
                            cause=cause or "",
                            planned=planned,
                            source=source,
                            fingerprint=fingerprint,
                            created_by=actor,
                        )
                    if ticket is not None:
                        link_incident(existing, ticket)
                    return existing
            except IntegrityError:
                # A concurrent repeat of the same alert opened it first: take that one.
                if not fingerprint:
                    raise
        raise DowntimeRefused([_("The downtime could not be opened; try again.")])


def close_downtime(
    *, environment: Environment, fingerprint: str, ended_at: datetime
) -> Downtime | None:
    """Close the downtime open for (environment, fingerprint); None when none is open.

    An end before the start (clocks of different monitors) ends it one second after its
    start rather than refusing: the alert's "resolved" must never leave it open forever.
    """
    if not fingerprint:
        return None
    if timezone.is_naive(ended_at):
        raise DowntimeRefused([_("The end needs a time zone.")])
    check_writable()
    with _scope(environment), transaction.atomic():
        downtime = _open_for(environment, fingerprint[:200])
        if downtime is None:
            return None
        downtime.ended_at = max(ended_at, downtime.started_at + timedelta(seconds=1))
        downtime.save(update_fields=["ended_at"])
        return downtime


# --- staff ---------------------------------------------------------------------------


def check_staff(actor: User, organisation_id: int, permission: str = RECORD_PERMISSION) -> PermSet:
    """The actor may act on this organisation's downtimes (else ``PermissionDenied``)."""
    permset = PermSet(actor)
    message = _("You may not record downtimes for this customer.")
    if not permset.is_agent or not permset.has(permission):
        raise PermissionDenied(message)
    if not permset.sees_organisation(organisation_id):
        raise PermissionDenied(message)
    return permset


def _validate(
    environment: Environment,
    started_at: datetime | None,
    ended_at: datetime | None,
    exclude_pk: int | None = None,
) -> list[str]:
    reasons: list[str] = []
    now = timezone.now()
    if started_at is None:
        return [_("Give the start of the downtime.")]
    if started_at > now + CLOCK_SKEW:
        reasons.append(_("A downtime cannot start in the future."))
    if ended_at is not None:
        if ended_at <= started_at:
            reasons.append(_("The end must be after the start."))
        if ended_at > now + CLOCK_SKEW:
            reasons.append(_("A downtime cannot end in the future; leave the end empty."))
    if reasons:
        return reasons
    others = Downtime.objects.filter(environment=environment)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    end = ended_at or (now + timedelta(days=36500))
    clash = (
        others.filter(started_at__lt=end)
        .exclude(ended_at__isnull=False, ended_at__lte=started_at)
        .order_by("started_at")
        .first()
    )
    if clash is not None:
        zone = environment.organisation.zone
        until = (
            timezone.localtime(clash.ended_at, zone).strftime("%Y-%m-%d %H:%M")
            if clash.ended_at
            else _("ongoing")
        )
        reasons.append(
            _(
                "This overlaps the downtime from %(start)s to %(end)s on the same "
                "environment; change that record instead."
            )
            % {
                "start": timezone.localtime(clash.started_at, zone).strftime("%Y-%m-%d %H:%M"),
                "end": until,
            }
        )
    return reasons


def _set_incidents(downtime: Downtime, incidents: Iterable[Ticket]) -> None:
    wanted = {t.pk: t for t in incidents}
    if any(t.organisation_id != downtime.organisation_id for t in wanted.values()):
        raise DowntimeRefused([_("The request belongs to another customer.")])
    current = set(downtime.incidents.values_list("pk", flat=True))
    for pk in current - set(wanted):
        downtime.incidents.remove(pk)
    for pk in set(wanted) - current:
        downtime.incidents.add(wanted[pk])
        _note_link(downtime, wanted[pk])


def record_downtime(
    *,
    environment: Environment,
    started_at: datetime,
    ended_at: datetime | None,
    cause: str,
    planned: bool | None,
    incidents: Iterable[Ticket] = (),
    actor: User,
) -> Downtime:
    """A downtime recorded by hand. ``planned=None`` follows the maintenance windows."""
    check_staff(actor, environment.organisation_id)
    check_writable()
    with _scope(environment):
        reasons = _validate(environment, started_at, ended_at)
        if not (cause or "").strip():
            reasons.append(_("Say what caused the downtime."))
        if reasons:
            raise DowntimeRefused(reasons)
        if planned is None:
            planned = planned_by_windows(environment, started_at)
        with transaction.atomic():
            downtime = Downtime.objects.create(
                environment=environment,
                started_at=started_at,
                ended_at=ended_at,
                cause=cause.strip(),
                planned=planned,
                source=Downtime.Source.MANUAL,
                created_by=actor,
            )
            _set_incidents(downtime, incidents)
    return downtime


def update_downtime(
    *,
    downtime: Downtime,
    started_at: datetime,
    ended_at: datetime | None,
    cause: str,
    planned: bool,
    incidents: Iterable[Ticket] | None = None,
    actor: User,
) -> Downtime:
    """Correct a downtime (also one an alert opened); the same rules as recording one."""
    check_staff(actor, downtime.organisation_id)
    check_writable()
    environment = downtime.environment
    with _scope(environment):
        reasons = _validate(environment, started_at, ended_at, exclude_pk=downtime.pk)
        if not (cause or "").strip():
            reasons.append(_("Say what caused the downtime."))
        if reasons:
            raise DowntimeRefused(reasons)
        with transaction.atomic():
            locked = Downtime.objects.select_for_update(of=("self",)).get(pk=downtime.pk)
            locked.started_at = started_at
            locked.ended_at = ended_at
            locked.cause = cause.strip()
            locked.planned = planned
            try:
                with transaction.atomic():
                    locked.save()
            except IntegrityError as exc:
                raise DowntimeRefused(
                    [_("Another downtime of this alert is open; close that one first.")]
                ) from exc
            if incidents is not None:
                _set_incidents(locked, incidents)
    return locked


def end_downtime(*, downtime: Downtime, ended_at: datetime, actor: User) -> Downtime:
    """Close an ongoing downtime by hand (the alert's "resolved" never came)."""
    return update_downtime(
        downtime=downtime,
        started_at=downtime.started_at,
        ended_at=ended_at,
        cause=downtime.cause or _("Unknown"),
        planned=downtime.planned,
        actor=actor,
    )


def visible_downtimes(permset: PermSet):
    """Downtimes of the environments the person may see (the scope enforces it too)."""
    from aftercare.lifecycle.services import visible_environments

    return Downtime.objects.filter(
        environment__in=visible_environments(permset).values("pk")
    ).select_related("environment", "environment__system", "organisation", "created_by")
