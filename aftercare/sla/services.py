"""The SLA engine: which targets apply, clocks per request, pauses, warnings, breaches.

All business-time arithmetic is delegated to ``calendar.BusinessCalendar`` (one function
everywhere, glpi#10594). Clocks keep their pause intervals; deadlines are recomputed from
them whenever the priority, category, contract or status changes.
"""

from __future__ import annotations

import threading
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aftercare.accounts.models import User
from aftercare.accounts.querysets import agents_seeing
from aftercare.accounts.roles import GROUP_NAMES, PermSet, Role
from aftercare.desk import followups
from aftercare.desk.models import Event, Level, Status, Ticket
from aftercare.desk.notes import deferred as deferred_note
from aftercare.sla.calendar import ALWAYS_WEEK, BusinessCalendar, parse_hours
from aftercare.sla.models import (
    Calendar,
    Metric,
    Notification,
    SlaClock,
    SlaExtension,
    SlaPause,
    SlaPlan,
    SlaTarget,
)

_cache: dict[tuple, BusinessCalendar] = {}
_cache_lock = threading.Lock()


def _build(calendar: Calendar) -> BusinessCalendar:
    if calendar.around_the_clock:
        return BusinessCalendar(calendar.time_zone, week=ALWAYS_WEEK)
    off, working = set(), {}
    for exc in calendar.exceptions.all():
        if exc.kind == exc.Kind.OFF:
            off.add(exc.day)
        else:
            s = (exc.starts.hour * 60 + exc.starts.minute) if exc.starts else 540
            e = (exc.ends.hour * 60 + exc.ends.minute) if exc.ends else 1080
            working[exc.day] = ((s, e),)
    return BusinessCalendar(
        calendar.time_zone,
        week=parse_hours(calendar.hours or None),
        country=calendar.country,
        subdivision=calendar.subdivision,
        days_off=frozenset(off),
        extra_working=working,
    )


def business_calendar(
    plan: SlaPlan | None, organisation, around_the_clock: bool = False
) -> BusinessCalendar:
    """The calendar a request's clocks run on, shared per process and rebuilt on change."""
    if around_the_clock:
        key: tuple = ("24x7",)
        factory = lambda: BusinessCalendar("UTC", week=ALWAYS_WEEK)  # noqa: E731
    elif plan is not None and plan.calendar_id:
        cal = plan.calendar
        key = ("cal", cal.pk, cal.updated_at)
        factory = lambda: _build(cal)  # noqa: E731
    else:
        key = ("org", organisation.time_zone, organisation.country)
        factory = lambda: BusinessCalendar(  # noqa: E731
            organisation.time_zone, country=organisation.country
        )
    found = _cache.get(key)
    if found is None:
        with _cache_lock:
            found = _cache.get(key) or factory()
            _cache[key] = found
    return found


def plan_for(ticket: Ticket) -> SlaPlan | None:
    if ticket.contract_id and ticket.contract.sla_plan_id:
        return ticket.contract.sla_plan
    return SlaPlan.objects.filter(is_default=True).order_by("pk").first()


def target_for(plan: SlaPlan, ticket: Ticket) -> SlaTarget | None:
    """The category-specific target for the priority, else the any-category one."""
    rows = list(
        SlaTarget.objects.filter(plan=plan, priority=ticket.priority).filter(
            Q(category=ticket.category) | Q(category="")
        )
    )
    rows.sort(key=lambda t: t.category == "")
    return rows[0] if rows else None


def _calendar_of(clock: SlaClock, ticket: Ticket) -> BusinessCalendar:
    return business_calendar(clock.plan, ticket.organisation, clock.around_the_clock)


def _paused_seconds(clock: SlaClock, cal: BusinessCalendar, now: datetime) -> int:
    if clock.pk is None:
        return 0
    return sum(cal.seconds_between(p.started_at, p.ended_at or now) for p in clock.pauses.all())


def elapsed_minutes(clock: SlaClock, ticket: Ticket, now: datetime | None = None) -> float:
    """Business minutes consumed so far (excluding pauses)."""
    now = now or timezone.now()
    cal = _calendar_of(clock, ticket)
    end = clock.stopped_at or now
    return (cal.seconds_between(clock.started_at, end) - _paused_seconds(clock, cal, end)) / 60


def remaining_minutes(clock: SlaClock, ticket: Ticket, now: datetime | None = None) -> float:
    return clock.target_minutes - elapsed_minutes(clock, ticket, now)


def _recompute(clock: SlaClock, ticket: Ticket, now: datetime) -> None:
    cal = _calendar_of(clock, ticket)
    paused = _paused_seconds(clock, cal, now)
    clock.paused_minutes = paused / 60
    if clock.state == SlaClock.State.PAUSED or clock.stopped_at:
        clock.deadline = None
        clock.warn_at = None
        return
    target = clock.target_minutes * 60
    clock.deadline = cal.add_seconds(clock.started_at, target + paused)
    warn_share = (clock.plan.warn_percent if clock.plan else 75) / 100
    clock.warn_at = cal.add_seconds(clock.started_at, int(target * warn_share) + paused)
    if clock.extended_until and clock.extended_until > clock.deadline:
        # Agreed with the customer: due then; warned as long before it as it would have been.
        clock.warn_at = clock.extended_until - (clock.deadline - clock.warn_at)
        clock.deadline = clock.extended_until


def _sync_ticket(
    ticket: Ticket, now: datetime, clocks: list[SlaClock] | None = None, *, save: bool = True
) -> None:
    """The request's own SLA columns (for the queue) from its clocks (read unless given);
    written unless ``save`` is false (a request not inserted yet)."""
    if clocks is None:
        clocks = list(SlaClock.objects.filter(ticket=ticket))
    running = [c for c in clocks if c.state == SlaClock.State.RUNNING and c.deadline]
    due = min((c.deadline for c in running), default=None)
    warn = min((c.warn_at for c in running if c.warn_at), default=None)
    if not clocks:
        state = ""
    elif any(c.breached_at for c in clocks if c.is_active) or (due and due <= now):
        state = "breached"
    elif running:
        state = "warning" if warn and warn <= now else "ok"
    elif any(c.state == SlaClock.State.PAUSED for c in clocks):
        state = "paused"
    else:
        state = "breached" if any(c.state == SlaClock.State.BREACHED for c in clocks) else "met"
    ticket.sla_due_at, ticket.sla_warn_at, ticket.sla_state = due, warn, state
    if save:
        Ticket.objects.filter(pk=ticket.pk).update(
            sla_due_at=due, sla_warn_at=warn, sla_state=state
        )


def prepare_start(ticket: Ticket, now: datetime):
    """For a request not saved yet (``desk.signals.ticket_opening``): its clocks and SLA
    columns, computed before the transaction. Returns the function that writes the clocks
    right after the request's insert; ``start`` then has nothing left to do."""
    clocks = _new_clocks(ticket, now)
    ticket._sla_started = True
    if not clocks:
        return None
    _sync_ticket(ticket, now, clocks, save=False)

    def write(saved: Ticket) -> None:
        for clock in clocks:
            clock.ticket = saved
        SlaClock.objects.bulk_create(clocks)

    return write


def start(ticket: Ticket, now: datetime | None = None) -> list[SlaClock]:
    now = now or ticket.created_at
    if getattr(ticket, "_sla_started", False):
        return []  # prepared before the request's transaction (``prepare_start``)
    clocks = _new_clocks(ticket, now)
    if clocks:
        SlaClock.objects.bulk_create(clocks)
        _sync_ticket(ticket, now, clocks)
    return clocks


def _new_clocks(ticket: Ticket, now: datetime) -> list[SlaClock]:
    plan = plan_for(ticket)
    target = target_for(plan, ticket) if plan else None
    if target is None:
        return []
    clocks = []
    for metric, minutes in (
        (Metric.FIRST_RESPONSE, target.first_response_minutes),
        (Metric.RESOLUTION, target.resolution_minutes),
    ):
        clock = SlaClock(
            ticket=ticket,
            organisation_id=ticket.organisation_id,
            metric=metric,
            plan=plan,
            target_minutes=minutes,
            around_the_clock=target.around_the_clock,
            started_at=now,
        )
        _recompute(clock, ticket, now)
        clocks.append(clock)
    return clocks


def recompute(ticket: Ticket, now: datetime | None = None) -> None:
    """Priority, category or contract changed: new targets, same start and pauses."""
    now = now or timezone.now()
    plan = plan_for(ticket)
    target = target_for(plan, ticket) if plan else None
    for clock in SlaClock.objects.filter(ticket=ticket).select_related("plan"):
        if not clock.is_active:
            continue
        if target is not None:
            clock.plan = plan
            clock.target_minutes = (
                target.first_response_minutes
                if clock.metric == Metric.FIRST_RESPONSE
                else target.resolution_minutes
            )
            clock.around_the_clock = target.around_the_clock
        _recompute(clock, ticket, now)
        if clock.deadline and clock.deadline > now and clock.breached_at is None:
            clock.warned_at = clock.warned_at if clock.warn_at and clock.warn_at <= now else None
        clock.save()
    _sync_ticket(ticket, now)


def _stop(clock: SlaClock, ticket: Ticket, now: datetime) -> None:
    if clock.state == SlaClock.State.PAUSED:
        clock.pauses.filter(ended_at__isnull=True).update(ended_at=now)
        clock.paused_since = None
    clock.stopped_at = now
    clock.elapsed_minutes = elapsed_minutes(clock, ticket, now)
    late = clock.elapsed_minutes > clock.target_minutes
    if late and clock.extended_until is not None and clock.breached_at is None:
        late = now > clock.extended_until  # within the deadline agreed with the customer
    clock.state = SlaClock.State.BREACHED if late else SlaClock.State.MET
    if late and clock.breached_at is None:
        clock.breached_at = now
    _recompute(clock, ticket, now)
    clock.save()


def first_response(ticket: Ticket, now: datetime | None = None) -> None:
    now = now or timezone.now()
    clocks = list(SlaClock.objects.filter(ticket=ticket).select_related("plan"))
    for clock in clocks:
        if clock.metric == Metric.FIRST_RESPONSE and clock.stopped_at is None:
            _stop(clock, ticket, now)
    _sync_ticket(ticket, now, clocks)


def status_changed(ticket: Ticket, old: str, new: str, now: datetime | None = None) -> None:
    now = now or timezone.now()
    clocks = list(SlaClock.objects.filter(ticket=ticket).select_related("plan"))
    for clock in clocks:
        plan = clock.plan
        pausing = plan.pausing if plan else frozenset({Status.WAITING})
        stopping = plan.stopping if plan else frozenset()
        if clock.metric == Metric.FIRST_RESPONSE:
            # Solving or rejecting the request answers it too.
            if new in stopping and clock.stopped_at is None:
                _stop(clock, ticket, now)
            continue
        if new in stopping:
            if clock.stopped_at is None:
                _stop(clock, ticket, now)
            continue
        if old in stopping and clock.stopped_at is not None:
            # Reopened: the time it spent solved is not the desk's; count it as a pause.
            SlaPause.objects.create(
                clock=clock, started_at=clock.stopped_at, ended_at=now, reason="reopened"
            )
            clock.stopped_at = None
            clock.elapsed_minutes = None
            clock.state = SlaClock.State.RUNNING
        if new in pausing and clock.state != SlaClock.State.PAUSED:
            SlaPause.objects.create(clock=clock, started_at=now, reason=new)
            clock.state = SlaClock.State.PAUSED
            clock.paused_since = now
        elif new not in pausing and clock.state == SlaClock.State.PAUSED:
            clock.pauses.filter(ended_at__isnull=True).update(ended_at=now)
            clock.state = SlaClock.State.RUNNING
            clock.paused_since = None
        _recompute(clock, ticket, now)
        clock.save()
    _sync_ticket(ticket, now)


# -- the periodic check -------------------------------------------------------------------


def _managers(ticket: Ticket) -> list[User]:
    """Support managers who may see the request (restricted ones only for their own)."""
    return list(
        agents_seeing(ticket.organisation_id).filter(groups__name=GROUP_NAMES[Role.MANAGER])
    )


def _assignee_or_managers(ticket: Ticket) -> list[User]:
    """Who is warned: the assignee, or the managers when nobody (who may still see the
    request, e.g. after a restriction was added) is assigned."""
    assignee = ticket.assignee
    if assignee is not None and PermSet(assignee).may_view_ticket(ticket):
        return [assignee]
    return _managers(ticket)


def _notify(users, ticket: Ticket, clock: SlaClock, kind: str, now: datetime) -> int:
    """Tell staff of a warning or breach; only people who may see the request are told
    (the one rule, ``PermSet.may_view_ticket``, checked here for every producer)."""
    sent = 0
    for user in {u.pk: u for u in users if u is not None}.values():
        if not PermSet(user).may_view_ticket(ticket):
            continue
        try:
            with transaction.atomic():
                Notification.objects.create(
                    user=user, ticket=ticket, clock=clock, kind=kind, created_at=now
                )
            sent += 1
        except IntegrityError:
            pass  # already told: repeated or concurrent runs notify nobody twice
    return sent


# The metric labels as messages, for notes rendered in the reader's language.
METRIC_MSGIDS = {
    Metric.FIRST_RESPONSE: gettext_noop("First response"),
    Metric.RESOLUTION: gettext_noop("Resolution"),
}


def _metric_msgid(clock: SlaClock) -> dict:
    return {"msgid": METRIC_MSGIDS.get(clock.metric, clock.metric)}


def _event(ticket: Ticket, action: str, clock: SlaClock, now: datetime, note) -> None:
    event = Event.objects.create(
        ticket=ticket,
        organisation_id=ticket.organisation_id,
        action=action,
        field="sla",
        new=clock.metric,
        note=str(note),
        note_id=note.msgid,
        note_params=note.params,
        is_internal=True,
        created_at=now,
    )
    followups.announce(ticket, event)


def check(now: datetime | None = None) -> dict[str, int]:
    """Warn and escalate; safe to run repeatedly and concurrently.

    Each clock is claimed with a conditional UPDATE (``warned_at IS NULL`` → now): only
    the run whose update changed the row goes on to notify, so a crash between runs or
    two workers at once cannot send anything twice.
    """
    now = now or timezone.now()
    counts = {"warned": 0, "breached": 0, "escalated": 0}
    due_warn = SlaClock.objects.filter(
        state=SlaClock.State.RUNNING, warned_at__isnull=True, warn_at__lte=now, deadline__gt=now
    )
    for pk in list(due_warn.values_list("pk", flat=True)):
        with transaction.atomic():
            if not SlaClock.objects.filter(pk=pk, warned_at__isnull=True).update(warned_at=now):
                continue
            clock = SlaClock.objects.select_related(
                "ticket__assignee", "ticket__organisation", "plan"
            ).get(pk=pk)
            ticket = clock.ticket
            _event(
                ticket,
                "sla.warning",
                clock,
                now,
                deferred_note(
                    gettext_noop("%(metric)s due at %(due)s"),
                    metric=_metric_msgid(clock),
                    due=timezone.localtime(clock.deadline).strftime("%Y-%m-%d %H:%M"),
                ),
            )
            _notify(_assignee_or_managers(ticket), ticket, clock, "warning", now)
            _sync_ticket(ticket, now)
            counts["warned"] += 1
    due_breach = SlaClock.objects.filter(
        state=SlaClock.State.RUNNING, breached_at__isnull=True, deadline__lte=now
    )
    for pk in list(due_breach.values_list("pk", flat=True)):
        with transaction.atomic():
            if not SlaClock.objects.filter(pk=pk, breached_at__isnull=True).update(
                breached_at=now, warned_at=now
            ):
                continue
            clock = SlaClock.objects.select_related(
                "ticket__assignee", "ticket__organisation", "plan"
            ).get(pk=pk)
            ticket = Ticket.objects.select_for_update().get(pk=clock.ticket_id)
            _event(
                ticket,
                "sla.breached",
                clock,
                now,
                deferred_note(
                    gettext_noop("%(metric)s target missed"), metric=_metric_msgid(clock)
                ),
            )
            _notify([ticket.assignee, *_managers(ticket)], ticket, clock, "breached", now)
            counts["breached"] += 1
            if clock.plan and clock.plan.escalate_to_l2 and ticket.level == Level.L1:
                ticket.level = Level.L2
                ticket.version += 1
                ticket.save(update_fields=["level", "version"])
                escalation = deferred_note(
                    gettext_noop("Escalated automatically: SLA target missed.")
                )
                ev = Event.objects.create(
                    ticket=ticket,
                    organisation_id=ticket.organisation_id,
                    action="desk.ticket.escalated",
                    field="level",
                    old=Level.L1,
                    new=Level.L2,
                    note=str(escalation),
                    note_id=escalation.msgid,
                    created_at=now,
                )
                followups.announce(ticket, ev)
                counts["escalated"] += 1
            _sync_ticket(ticket, now)
    return counts


# -- extensions agreed with the customer ----------------------------------------------------


class ExtensionError(ValueError):
    """An extension that cannot be recorded; ``message`` says why, for the user."""

    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


@transaction.atomic
def extend(
    *,
    ticket: Ticket,
    actor: User,
    metric: str,
    agreed_by,
    new_deadline: datetime,
    reason: str,
    now: datetime | None = None,
) -> SlaExtension:
    """Move one clock's deadline to ``new_deadline`` as agreed with ``agreed_by`` (a
    contact person of the request's organisation), and audit it on the request.

    Staff only, and only on a request the actor may see (a restricted agent is refused
    another organisation's). A clock already breached or stopped cannot be extended: an
    agreement made after the fact does not undo a missed target, and reports would lie.
    """
    from django.core.exceptions import PermissionDenied

    from aftercare.ops.maintenance import check_writable

    check_writable()
    now = now or timezone.now()
    permset = PermSet(actor)
    if not permset.is_agent or not permset.may_view_ticket(ticket):
        raise PermissionDenied(_("You may not extend the deadlines of this request."))
    if agreed_by is None or agreed_by.organisation_id != ticket.organisation_id:
        raise ExtensionError(
            _("Choose who agreed among the contact persons of %(org)s.")
            % {"org": ticket.organisation.name}
        )
    if not (reason or "").strip():
        raise ExtensionError(_("Please give the reason agreed with the customer."))
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    clock = (
        SlaClock.objects.select_for_update(of=("self",))
        .select_related("plan")
        .filter(ticket=ticket, metric=metric)
        .first()
    )
    if clock is None or not clock.is_active:
        raise ExtensionError(_("This request has no running clock for that target."))
    if clock.breached_at is not None or clock.state == SlaClock.State.BREACHED:
        raise ExtensionError(
            _("This target was already missed; an extension cannot undo a breach.")
        )
    if new_deadline <= now:
        raise ExtensionError(_("The new deadline must be in the future."))
    current = clock.deadline or clock.extended_until
    if current is not None and new_deadline <= current:
        raise ExtensionError(
            _("The new deadline must be later than the current one (%(due)s).")
            % {"due": timezone.localtime(current).strftime("%Y-%m-%d %H:%M")}
        )
    extension = SlaExtension.objects.create(
        clock=clock,
        ticket=ticket,
        organisation_id=ticket.organisation_id,
        agreed_by=agreed_by,
        previous_deadline=clock.deadline,
        new_deadline=new_deadline,
        reason=reason.strip(),
        created_by=actor,
        created_at=now,
    )
    clock.extended_until = new_deadline
    _recompute(clock, ticket, now)
    if clock.warn_at and clock.warn_at > now:
        clock.warned_at = None  # warn again before the agreed deadline
    clock.save()
    _sync_ticket(ticket, now)
    event = Event.objects.create(
        ticket=ticket,
        organisation_id=ticket.organisation_id,
        actor=actor,
        action="sla.extended",
        field="sla",
        old=clock.metric,
        new=new_deadline.isoformat(),
        note=_("%(metric)s deadline extended to %(due)s, agreed with %(who)s: %(reason)s")
        % {
            "metric": clock.get_metric_display(),
            "due": timezone.localtime(new_deadline).strftime("%Y-%m-%d %H:%M"),
            "who": agreed_by.name,
            "reason": extension.reason,
        },
        is_internal=True,
        created_at=now,
    )
    followups.announce(ticket, event)
    return extension


def is_staff_reply(event: Event) -> bool:
    return bool(event.actor_id) and PermSet(event.actor).is_agent


def format_minutes(minutes: float) -> str:
    minutes = max(0, round(minutes))
    hours, mins = divmod(minutes, 60)
    return _("%(h)sh %(m)02dm") % {"h": hours, "m": mins} if hours else _("%(m)sm") % {"m": mins}


def panel(ticket: Ticket, now: datetime | None = None) -> list[dict]:
    """What the request page shows about each clock (business time used, target)."""
    now = now or timezone.now()
    rows = []
    for clock in SlaClock.objects.filter(ticket=ticket).select_related("plan").order_by("metric"):
        rows.append(
            {
                "clock": clock,
                "target": format_minutes(clock.target_minutes),
                "used": format_minutes(elapsed_minutes(clock, ticket, now)),
                "paused": format_minutes(clock.paused_minutes),
            }
        )
    return rows
