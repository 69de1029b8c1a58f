"""Recording time spent on requests: add, correct, delete, each audited on the request.

Only agents who may see the request record time on it. Everyone corrects or deletes their
own entries; support managers and administrators correct anyone's (vendors bill these
hours, so mistakes must be fixable by the people who send the invoices). Every change
leaves an internal ``Event`` on the request (``time.recorded``, ``time.changed``,
``time.deleted``), so it shows in the staff history and never to customers.
"""

from __future__ import annotations

import re
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet, Role
from aftercare.desk import services as desk_services
from aftercare.desk.models import Message, Ticket
from aftercare.ops.maintenance import check_writable
from aftercare.timetracking.models import TimeEntry

MAX_MINUTES = 24 * 60
NOTE_MAX = 250

_UNITS_H = ("h", "hr", "hrs", "hour", "hours")
_UNITS_M = ("m", "min", "mins", "minute", "minutes")
_NUMBER = r"\d+(?:[.,]\d+)?"
_PART = re.compile(rf"({_NUMBER})\s*([a-z]+)?")
_CLOCK = re.compile(r"(\d+):([0-5]\d)")


def _invalid(text: str) -> ValidationError:
    return ValidationError(
        _("“%(text)s” is not a duration. Write it like 45m, 1h 30m, 1:30, 1,5h or 90.")
        % {"text": text[:40]},
        code="invalid",
    )


def parse_duration(text: str | int) -> int:
    """Minutes from what people type: ``90``, ``45m``, ``1h 30m``, ``1h30``, ``1:30``,
    ``1,5h``, ``1.5 hours``. A bare number is minutes. The range is not checked here."""
    if isinstance(text, int):
        return text
    raw = str(text or "").strip()
    value = raw.lower()
    if not value:
        raise ValidationError(_("Enter the time spent, e.g. 30m or 1h 15m."), code="required")
    clock = _CLOCK.fullmatch(value)
    if clock:
        return int(clock.group(1)) * 60 + int(clock.group(2))
    total = 0.0
    pos = 0
    seen_h = seen_m = False
    parts = 0
    for match in _PART.finditer(value):
        if value[pos : match.start()].strip():
            raise _invalid(raw)
        pos = match.end()
        number = float(match.group(1).replace(",", "."))
        unit = match.group(2)
        if unit in _UNITS_H and not seen_h and not seen_m:
            seen_h = True
            total += number * 60
        elif (unit in _UNITS_M or (unit is None and seen_h)) and not seen_m:
            # "1h30" means 1 h 30 min; a bare number alone means minutes.
            if "." in match.group(1) or "," in match.group(1):
                raise _invalid(raw)
            seen_m = True
            total += number
        elif unit is None and parts == 0:
            if "." in match.group(1) or "," in match.group(1):
                raise _invalid(raw)
            seen_m = True
            total += number
        else:
            raise _invalid(raw)
        parts += 1
    if not parts or value[pos:].strip():
        raise _invalid(raw)
    return round(total)


def check_minutes(minutes) -> int:
    """1 to 1440 minutes in one entry (a whole day); more is a typing mistake."""
    try:
        minutes = int(minutes)
    except (TypeError, ValueError):
        raise ValidationError({"minutes": _("Enter whole minutes.")}) from None
    if minutes < 1:
        raise ValidationError({"minutes": _("Record at least one minute.")})
    if minutes > MAX_MINUTES:
        raise ValidationError(
            {
                "minutes": _("One entry holds at most %(max)s minutes (24 hours).")
                % {"max": MAX_MINUTES}
            }
        )
    return minutes


def _check_day(spent_on: date | None) -> date:
    today = timezone.localdate()
    if spent_on is None:
        return today
    if spent_on > today:
        raise ValidationError({"spent_on": _("The date cannot be in the future.")})
    return spent_on


def _check_note(note: str | None) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(
            {"note": _("Keep the note under %(max)s characters.") % {"max": NOTE_MAX}}
        )
    return note


def may_record(permset: PermSet, ticket: Ticket) -> bool:
    """Agents who may see the request (a restricted agent only their customers')."""
    return permset.is_agent and permset.may_view_ticket(ticket)


def may_correct_others(permset: PermSet) -> bool:
    return bool(permset.staff_roles & {Role.MANAGER, Role.ADMIN}) or permset.has(
        "timetracking.change_timeentry"
    )


def may_change(permset: PermSet, entry: TimeEntry) -> bool:
    """One's own entries; managers and administrators anyone's — on requests they see."""
    if not may_record(permset, entry.ticket):
        return False
    return entry.user_id == permset.user.pk or may_correct_others(permset)


def _audit(entry: TimeEntry, ticket: Ticket, actor: User, action: str, **values) -> None:
    desk_services._event(  # noqa: SLF001 - the desk's one audit writer
        ticket, actor, action, field="minutes", internal=True, **values
    )


@transaction.atomic
def record(
    *,
    ticket: Ticket,
    actor: User,
    minutes: int | str,
    message: Message | None = None,
    spent_on: date | None = None,
    note: str = "",
) -> TimeEntry:
    """Record minutes one agent spent on a request, optionally with the reply or note
    that the time went into. The request's contract is copied onto the entry."""
    check_writable()
    permset = PermSet(actor)
    if not may_record(permset, ticket):
        raise PermissionDenied(_("You may not record time on this request."))
    if isinstance(minutes, str):
        try:
            minutes = parse_duration(minutes)
        except ValidationError as exc:
            raise ValidationError({"minutes": exc.messages}) from None
    minutes = check_minutes(minutes)
    spent_on = _check_day(spent_on)
    note = _check_note(note)
    if message is not None and message.ticket_id != ticket.pk:
        raise ValidationError(_("That message belongs to another request."))
    # The contract as it is now, not as a page loaded earlier saw it.
    current = Ticket.objects.only("pk", "organisation_id", "contract_id", "number").get(
        pk=ticket.pk
    )
    entry = TimeEntry.objects.create(
        ticket=current,
        organisation_id=current.organisation_id,
        contract_id=current.contract_id,
        message=message,
        user=actor,
        minutes=minutes,
        spent_on=spent_on,
        note=note,
    )
    _audit(entry, current, actor, "time.recorded", new=minutes, note=_what(entry, actor))
    return entry


def _entry_for_change(entry: TimeEntry, actor: User) -> TimeEntry:
    check_writable()
    permset = PermSet(actor)
    fresh = (
        TimeEntry.objects.select_for_update().select_related("ticket").filter(pk=entry.pk).first()
    )
    if fresh is None:
        raise ValidationError(_("This time entry no longer exists."))
    if not may_change(permset, fresh):
        raise PermissionDenied(_("You may only change your own time entries."))
    return fresh


def _what(entry: TimeEntry, actor: User) -> str:
    """The entry named in the audit note: its date, whose it is when not the actor's, its
    note. Stored as data (no translated words), like every event value."""
    parts = [entry.spent_on.isoformat()]
    if entry.user_id != actor.pk:
        parts.append(entry.user.display_name)
    if entry.note:
        parts.append(entry.note)
    return " · ".join(parts)


@transaction.atomic
def update(
    *,
    entry: TimeEntry,
    actor: User,
    minutes: int | str | None = None,
    spent_on: date | None = None,
    note: str | None = None,
) -> TimeEntry:
    """Correct an entry (minutes, date, note); the old and new minutes are audited."""
    entry = _entry_for_change(entry, actor)
    old = entry.minutes
    changed: list[str] = []
    if minutes is not None:
        if isinstance(minutes, str):
            try:
                minutes = parse_duration(minutes)
            except ValidationError as exc:
                raise ValidationError({"minutes": exc.messages}) from None
        minutes = check_minutes(minutes)
        if minutes != entry.minutes:
            entry.minutes = minutes
            changed.append("minutes")
    if spent_on is not None and spent_on != entry.spent_on:
        entry.spent_on = _check_day(spent_on)
        changed.append("spent_on")
    if note is not None:
        note = _check_note(note)
        if note != entry.note:
            entry.note = note
            changed.append("note")
    if not changed:
        return entry
    entry.save(update_fields=changed)
    _audit(
        entry,
        entry.ticket,
        actor,
        "time.changed",
        old=old,
        new=entry.minutes,
        note=_what(entry, actor),
    )
    return entry


@transaction.atomic
def delete(*, entry: TimeEntry, actor: User) -> None:
    """Delete an entry; the event keeps what was deleted."""
    entry = _entry_for_change(entry, actor)
    note = _what(entry, actor)
    ticket = entry.ticket
    minutes = entry.minutes
    entry.delete()
    _audit(entry, ticket, actor, "time.deleted", old=minutes, new=0, note=note)
