"""Operations on requests. Every change goes through here and leaves an ``Event``.

Views, the API, mail intake and commands call these functions; none of them writes a
ticket field directly. Each function runs in one transaction, re-reads the ticket under a
row lock, checks the caller's right against the workflow table or permissions, and writes
the change and its audit rows together.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import timedelta
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet, Role
from aftercare.desk import followups, workflow
from aftercare.desk.attachments import content_type_for, safe_name, validate_uploads
from aftercare.desk.models import (
    Attachment,
    Category,
    Channel,
    Event,
    Level,
    Message,
    Priority,
    Status,
    Tag,
    Ticket,
)
from aftercare.desk.notes import Note
from aftercare.desk.notes import deferred as deferred_note
from aftercare.desk.numbering import allocate_number
from aftercare.desk.signals import ticket_opening
from aftercare.ops.maintenance import check_writable
from aftercare.tenancy.models import Contract, Organisation, System

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


class ConflictError(Exception):
    """The ticket changed since the user loaded it; their change was not applied."""

    @classmethod
    def for_ticket(cls, ticket: Ticket) -> ConflictError:
        return cls(
            _(
                "%(number)s was changed by someone else while you were editing it. "
                "Reload the page to see their change, then try again."
            )
            % {"number": ticket.number}
        )


class AttachmentStorageError(ValidationError):
    """The attachment storage failed (disk full, share or bucket away); nothing was saved.

    A ``ValidationError`` so that forms and the API show it like any refused input; mail
    intake tells it apart, because there the message must be retried, not answered.
    """


def _event(
    ticket: Ticket,
    actor: User | None,
    action: str,
    *,
    field: str = "",
    old="",
    new="",
    note: str = "",
    internal: bool = False,
    at=None,
    context: dict | None = None,
) -> Event:
    """Record one change and tell the receivers (SLA clocks, notifications, webhooks).

    ``context`` goes to the receivers with the event (e.g. ``delivery``: the deployment
    that released the request), never into the row."""
    deferred = note if isinstance(note, Note) else None
    event = Event.objects.create(
        ticket=ticket,
        organisation_id=ticket.organisation_id,
        actor=actor,
        action=action,
        field=field,
        old="" if old is None else str(old),
        new="" if new is None else str(new),
        note=str(note),
        note_id=deferred.msgid if deferred else "",
        note_params=deferred.params if deferred else {},
        is_internal=internal,
        created_at=at or timezone.now(),
    )
    followups.announce(ticket, event, context)
    return event


def _lock(ticket: Ticket, expected_version: int | None = None) -> Ticket:
    fresh = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if expected_version is not None and fresh.version != expected_version:
        raise ConflictError.for_ticket(fresh)
    return fresh


def _touch(ticket: Ticket, fields: list[str], at=None) -> None:
    ticket.updated_at = at or timezone.now()
    ticket.version += 1
    ticket.save(update_fields=[*fields, "updated_at", "version"])


def _store_attachments(
    ticket: Ticket,
    message: Message | None,
    uploads: Iterable[UploadedFile],
    actor: User | None,
    internal: bool,
) -> list[Attachment]:
    """Store files; on any failure delete what was written so nothing half-made remains.

    A storage that fails (disk full, NFS or bucket away) raises ``OSError``; it becomes a
    ``ValidationError`` so the form is shown again with a clear message and the whole
    change is rolled back. Files written here are also deleted if the transaction fails
    later (``_removes_files_on_failure``).
    """
    stored: list[Attachment] = []
    written = _written_files.get()
    try:
        for upload in uploads:
            name = safe_name(upload.name or "")
            att = Attachment(
                ticket=ticket,
                message=message,
                organisation_id=ticket.organisation_id,
                name=name,
                content_type=content_type_for(name),
                size=upload.size or 0,
                is_internal=internal,
                uploaded_by=actor,
            )
            att.file.save(name, upload, save=False)
            stored.append(att)
            if written is not None:
                written.append((att.file.storage, att.file.name))
            att.save()
    except Exception as exc:
        for att in stored:
            _delete_quietly(att.file.storage, att.file.name)
        if isinstance(exc, OSError):
            log.error("storing an attachment failed: %s", exc)
            raise AttachmentStorageError(
                {
                    "files": _(
                        "The attachment could not be stored (%(reason)s). Nothing was saved; "
                        "please try again later or send it without the attachment."
                    )
                    % {"reason": exc.strerror or type(exc).__name__}
                }
            ) from exc
        raise
    return stored


_written_files: ContextVar[list[tuple[Storage, str]] | None] = ContextVar(
    "aftercare_written_files", default=None
)


def _delete_quietly(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:  # noqa: BLE001 - an orphan file is harmless; the error is logged
        log.warning("could not delete the orphan file %s", name, exc_info=True)


def _removes_files_on_failure(func: Callable[P, R]) -> Callable[P, R]:
    """Delete the files a service wrote if it (or its transaction's commit) fails.

    Django has no "on rollback" hook, so the service is wrapped *outside* its
    ``transaction.atomic``: an exception escaping the wrapper means nothing was committed
    (when the service is the outermost transaction, as in views, the API and mail intake).
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if _written_files.get() is not None:  # nested: the outer call cleans up
            return func(*args, **kwargs)
        written: list[tuple[Storage, str]] = []
        token = _written_files.set(written)
        try:
            return func(*args, **kwargs)
        except BaseException:
            for storage, name in written:
                _delete_quietly(storage, name)
            raise
        finally:
            _written_files.reset(token)

    return wrapper


def _customer_may_file_for(actor_permset: PermSet, organisation: Organisation) -> bool:
    return organisation.pk in actor_permset.memberships


@_removes_files_on_failure
def open_ticket(
    *,
    actor: User,
    organisation: Organisation,
    subject: str,
    description: str,
    category: str,
    priority: int = Priority.NORMAL,
    channel: str = Channel.PORTAL,
    reporter: User | None = None,
    system: System | None = None,
    conditions: str = "",
    attachments: Iterable[UploadedFile] = (),
    created_at=None,
    quoted: str = "",
    html: str = "",
) -> Ticket:
    """Register a request. ``actor`` files it; ``reporter`` is the customer it is for.

    A customer files for themself in an organisation they belong to; an agent with
    ``open_ticket_on_behalf`` may file for any member of an organisation in reach.

    Checks and look-ups run before the transaction; the transaction takes the number and
    writes the rows (and the SLA clocks), so it holds the write lock only for that.
    """
    check_writable()
    permset = PermSet(actor)
    reporter = reporter or actor
    on_behalf = reporter.pk != actor.pk or channel in (Channel.PHONE, Channel.MESSENGER)
    if permset.is_agent:
        if on_behalf and not permset.has("desk.open_ticket_on_behalf"):
            raise PermissionDenied(_("You may not register requests on behalf of customers."))
        if not permset.sees_organisation(organisation.pk) and not _customer_may_file_for(
            permset, organisation
        ):
            # An agent restricted to other organisations files nothing here.
            raise PermissionDenied(_("You may not file requests for this organisation."))
    elif not _customer_may_file_for(permset, organisation) or reporter.pk != actor.pk:
        raise PermissionDenied(_("You may not file requests for this organisation."))
    if not permset.is_agent and channel not in (Channel.PORTAL, Channel.API, Channel.EMAIL):
        raise PermissionDenied(_("Only the service desk registers phone and messenger requests."))
    if (
        reporter.pk != actor.pk
        and not reporter.memberships.filter(organisation=organisation).exists()
    ):
        raise ValidationError({"reporter": _("The caller is not a member of this organisation.")})
    if system is not None and system.organisation_id != organisation.pk:
        raise ValidationError({"system": _("This system belongs to another organisation.")})
    if category not in Category.values:
        raise ValidationError({"category": _("Choose a category.")})
    if int(priority) not in Priority.values:
        raise ValidationError({"priority": _("Choose a priority.")})
    subject = subject.strip()
    if not subject:
        raise ValidationError({"subject": _("A subject is required.")})
    if not description.strip():
        raise ValidationError({"description": _("Please describe the request.")})
    uploads = list(attachments)
    validate_uploads(uploads)

    now = created_at or timezone.now()
    contract = (
        Contract.objects.filter(organisation=organisation, starts_on__lte=now.date())
        .exclude(ends_on__lt=now.date())
        .order_by("-starts_on")
        .first()
    )
    note = _("on behalf of %(name)s") % {"name": reporter.display_name} if on_behalf else ""
    ticket = Ticket(
        organisation=organisation,
        contract=contract,
        system=system,
        reporter=reporter,
        created_by=actor,
        category=category,
        customer_priority=int(priority),
        priority=int(priority),
        channel=channel,
        subject=subject[:250],
        description=description,
        conditions=conditions,
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )
    message = Message(
        organisation=organisation,
        author=reporter,
        body=description,
        quoted=quoted,
        html=html,
        channel=channel,
        created_at=now,
    )
    writers = [w for _r, w in ticket_opening.send(sender=Ticket, ticket=ticket, at=now) if w]
    with transaction.atomic():
        ticket.number = allocate_number(now)
        ticket.save(force_insert=True)
        for write in writers:
            write(ticket)
        message.ticket = ticket
        message.save(force_insert=True)
        _store_attachments(ticket, message, uploads, actor, internal=False)
        _event(ticket, actor, "desk.ticket.created", new=ticket.number, at=now, note=note)
    ticket._first_message = message
    return ticket


def first_message(ticket: Ticket) -> Message | None:
    """The description as the request's first message: the one ``open_ticket`` just wrote
    (no query), else read."""
    known = getattr(ticket, "_first_message", None)
    return known if known is not None else ticket.messages.order_by("pk").first()


@_removes_files_on_failure
def reply(
    *,
    ticket: Ticket,
    actor: User,
    body: str,
    internal: bool = False,
    channel: str = Channel.PORTAL,
    attachments: Iterable[UploadedFile] = (),
    quoted: str = "",
    html: str = "",
) -> Message:
    """Add a public reply or an internal note.

    A customer's reply to a request waiting for them moves it back to where it was, so the
    SLA clock resumes without anyone having to remember to do it.
    """
    check_writable()
    permset = PermSet(actor)
    if internal and not permset.has("desk.add_internal_note"):
        raise PermissionDenied(_("You may not write internal notes."))
    # The look-ups (roles, memberships) before the lock; checked again under it, cached.
    if not permset.ticket_roles(ticket):
        raise PermissionDenied(_("You may not reply to this request."))
    if not body.strip():
        raise ValidationError({"body": _("The message is empty.")})
    uploads = list(attachments)
    validate_uploads(uploads)
    with transaction.atomic():
        return _write_reply(
            ticket, actor, permset, body, internal, channel, uploads, quoted=quoted, html=html
        )


def _write_reply(
    ticket: Ticket,
    actor: User,
    permset: PermSet,
    body: str,
    internal: bool,
    channel: str,
    uploads: list[UploadedFile],
    *,
    quoted: str,
    html: str,
) -> Message:
    ticket = _lock(ticket)
    if not permset.ticket_roles(ticket):
        raise PermissionDenied(_("You may not reply to this request."))
    if ticket.status in (Status.ARCHIVED,) and not permset.is_agent:
        raise ValidationError(_("This request is archived; please file a new one."))
    now = timezone.now()
    message = Message.objects.create(
        ticket=ticket,
        organisation_id=ticket.organisation_id,
        author=actor,
        body=body,
        quoted=quoted,
        html=html,
        kind=Message.Kind.INTERNAL if internal else Message.Kind.PUBLIC,
        channel=channel,
        created_at=now,
    )
    _store_attachments(ticket, message, uploads, actor, internal=internal)
    _event(
        ticket,
        actor,
        "desk.note.added" if internal else "desk.reply.added",
        internal=internal,
        at=now,
        context={"message": message},
    )
    fields: list[str] = []
    customer_side = not permset.is_agent
    if customer_side and not internal and ticket.status == Status.WAITING:
        back = ticket.status_before_waiting or Status.BACKLOG
        _apply_transition(
            ticket,
            None,
            back,
            frozenset({workflow.SYSTEM}),
            note=deferred_note(gettext_noop("The customer replied.")),
            at=now,
        )
        return message
    _touch(ticket, fields, at=now)
    return message


def _apply_transition(
    ticket: Ticket,
    actor: User | None,
    target: str,
    roles: frozenset[str],
    *,
    reason: str = "",
    note: str = "",
    at=None,
    context: dict | None = None,
) -> workflow.Rule:
    rule = workflow.check(ticket.status, target, roles, reason)
    if actor is not None:
        from aftercare.desk.approvals import blocking

        waiting = blocking(ticket, target)
        if waiting is not None:
            raise workflow.TransitionError(
                _("This move needs the customer's approval first (%(state)s): %(action)s")
                % {
                    "state": _("expired") if waiting.is_expired else waiting.get_state_display(),
                    "action": waiting.action,
                }
            )
    now = at or timezone.now()
    old = ticket.status
    fields = ["status", "status_changed_at"]
    if target == Status.WAITING:
        ticket.status_before_waiting = old
        fields.append("status_before_waiting")
    if target == Status.REJECTED:
        ticket.rejection_reason = reason
        fields.append("rejection_reason")
    if target == Status.RELEASED:
        ticket.released_at = now
        fields.append("released_at")
    if target in (Status.ARCHIVED, Status.REJECTED):
        ticket.closed_at = now
        fields.append("closed_at")
    elif old in (Status.ARCHIVED, Status.REJECTED, Status.RELEASED):
        ticket.closed_at = None
        ticket.released_at = None if target != Status.RELEASED else ticket.released_at
        fields += ["closed_at", "released_at"]
    if target in (Status.DONE, Status.REJECTED, Status.RELEASED):
        if ticket.resolved_at is None:
            ticket.resolved_at = now
            fields.append("resolved_at")
    elif target != Status.ARCHIVED and ticket.resolved_at is not None:
        ticket.resolved_at = None  # reopened: solved again later, counted then
        fields.append("resolved_at")
    ticket.status = target
    ticket.status_changed_at = now
    _touch(ticket, fields, at=now)
    _event(
        ticket,
        actor,
        "desk.ticket.status_changed",
        field="status",
        old=old,
        new=target,
        note=reason or note,
        at=now,
        context=context,
    )
    return rule


def transition(
    *,
    ticket: Ticket,
    actor: User,
    target: str,
    reason: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """Move a request to ``target`` if the workflow table allows it for this user."""
    check_writable()
    permset = PermSet(actor)
    if not permset.ticket_roles(ticket):  # the look-ups before the lock; checked again under it
        raise PermissionDenied(_("You may not change this request."))
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        roles = permset.ticket_roles(ticket)
        if not roles:
            raise PermissionDenied(_("You may not change this request."))
        _apply_transition(ticket, actor, target, roles, reason=reason.strip())
    return ticket


def _check_may_see(person: User | None, ticket: Ticket, field: str) -> None:
    """A request is handed only to staff who may see it: not to an agent restricted to
    other organisations (who would then get its mail and find it missing from their queue)."""
    if person is not None and not PermSet(person).may_view_ticket(ticket):
        raise ValidationError(
            {
                field: _(
                    "%(name)s may not see requests of %(organisation)s, so this request "
                    "cannot be assigned to them. Choose someone who works for this customer."
                )
                % {"name": person.display_name, "organisation": ticket.organisation.name}
            }
        )


@transaction.atomic
def assign(
    *, ticket: Ticket, actor: User, assignee: User | None, expected_version: int | None = None
) -> Ticket:
    check_writable()
    permset = PermSet(actor)
    if not permset.has("desk.assign_ticket"):
        raise PermissionDenied(_("You may not assign requests."))
    if assignee is not None and not PermSet(assignee).is_agent:
        raise ValidationError({"assignee": _("Requests can only be assigned to staff.")})
    ticket = _lock(ticket, expected_version)
    if not permset.may_view_ticket(ticket):
        raise PermissionDenied(_("You may not assign this request."))
    _check_may_see(assignee, ticket, "assignee")
    if ticket.assignee_id == (assignee.pk if assignee else None):
        return ticket
    old = ticket.assignee
    ticket.assignee = assignee
    _touch(ticket, ["assignee"])
    _event(
        ticket,
        actor,
        "desk.ticket.assigned",
        field="assignee",
        old=old.display_name if old else "",
        new=assignee.display_name if assignee else "",
    )
    return ticket


@transaction.atomic
def escalate(
    *,
    ticket: Ticket,
    actor: User,
    note: str = "",
    assignee: User | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """Hand a request from L1 to L2 (optionally to a named consultant)."""
    check_writable()
    if not PermSet(actor).has("desk.escalate_ticket"):
        raise PermissionDenied(_("You may not escalate requests."))
    ticket = _lock(ticket, expected_version)
    if not PermSet(actor).may_view_ticket(ticket):
        raise PermissionDenied(_("You may not escalate this request."))
    if ticket.level == Level.L2:
        raise ValidationError(_("This request is already at L2."))
    if not ticket.is_open:
        raise ValidationError(_("Only open requests can be escalated."))
    if assignee is not None and Role.CONSULTANT not in PermSet(assignee).staff_roles:
        raise ValidationError({"assignee": _("Choose an L2 consultant.")})
    _check_may_see(assignee, ticket, "assignee")
    ticket.level = Level.L2
    fields = ["level"]
    old_assignee = ticket.assignee
    if assignee is not None:
        ticket.assignee = assignee
        fields.append("assignee")
    _touch(ticket, fields)
    _event(
        ticket,
        actor,
        "desk.ticket.escalated",
        field="level",
        old=Level.L1,
        new=Level.L2,
        note=note,
        internal=False,
    )
    if assignee is not None and assignee != old_assignee:
        _event(
            ticket,
            actor,
            "desk.ticket.assigned",
            field="assignee",
            old=old_assignee.display_name if old_assignee else "",
            new=assignee.display_name,
        )
    return ticket


@transaction.atomic
def reprioritise(
    *, ticket: Ticket, actor: User, priority: int, reason: str, expected_version: int | None = None
) -> Ticket:
    """The operator's priority; the customer's requested priority is kept beside it."""
    check_writable()
    if not PermSet(actor).has("desk.reprioritise_ticket"):
        raise PermissionDenied(_("You may not change the priority."))
    if int(priority) not in Priority.values:
        raise ValidationError({"priority": _("Choose a priority.")})
    if not reason.strip():
        raise ValidationError({"reason": _("Please give a reason for the new priority.")})
    ticket = _lock(ticket, expected_version)
    if not PermSet(actor).may_view_ticket(ticket):
        raise PermissionDenied(_("You may not change the priority."))
    if ticket.priority == int(priority):
        return ticket
    old = ticket.priority
    ticket.priority = int(priority)
    ticket.priority_reason = reason.strip()
    _touch(ticket, ["priority", "priority_reason"])
    _event(
        ticket,
        actor,
        "desk.ticket.reprioritised",
        field="priority",
        old=old,
        new=ticket.priority,
        note=reason.strip(),
    )
    return ticket


@transaction.atomic
def classify(
    *,
    ticket: Ticket,
    actor: User,
    category: str | None = None,
    system: System | None = None,
    subject: str | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """L1 triage: correct the category, the system or the subject."""
    check_writable()
    if not PermSet(actor).has("desk.triage_ticket"):
        raise PermissionDenied(_("You may not classify requests."))
    ticket = _lock(ticket, expected_version)
    if not PermSet(actor).may_view_ticket(ticket):
        raise PermissionDenied(_("You may not classify requests."))
    changes: list[tuple[str, object, object]] = []
    if category is not None and category != ticket.category:
        if category not in Category.values:
            raise ValidationError({"category": _("Choose a category.")})
        changes.append(("category", ticket.category, category))
        ticket.category = category
    if system is not None and system.pk != ticket.system_id:
        if system.organisation_id != ticket.organisation_id:
            raise ValidationError({"system": _("This system belongs to another organisation.")})
        changes.append(("system", ticket.system or "", system))
        ticket.system = system
    if subject is not None and subject.strip() and subject.strip() != ticket.subject:
        changes.append(("subject", ticket.subject, subject.strip()[:250]))
        ticket.subject = subject.strip()[:250]
    if not changes:
        return ticket
    _touch(ticket, [name for name, _o, _n in changes])
    for name, old, new in changes:
        _event(ticket, actor, "desk.ticket.updated", field=name, old=old, new=new)
    return ticket


@transaction.atomic
def set_level(
    *,
    ticket: Ticket,
    actor: User,
    level: int,
    note: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """Put a request at a support level. Up to L2 is an escalation (``escalate``'s rules
    and event); back to L1 hands it down again, for staff who may escalate."""
    check_writable()
    if not PermSet(actor).has("desk.escalate_ticket"):
        raise PermissionDenied(_("You may not change the level of requests."))
    if int(level) not in Level.values:
        raise ValidationError({"level": _("Choose a level.")})
    ticket = _lock(ticket, expected_version)
    if not PermSet(actor).may_view_ticket(ticket):
        raise PermissionDenied(_("You may not change the level of requests."))
    if ticket.level == int(level):
        return ticket
    if int(level) == Level.L2:
        return escalate(ticket=ticket, actor=actor, note=note)
    if not ticket.is_open:
        raise ValidationError(_("Only open requests can change level."))
    old = ticket.level
    ticket.level = int(level)
    _touch(ticket, ["level"])
    _event(
        ticket, actor, "desk.ticket.updated", field="level", old=old, new=ticket.level, note=note
    )
    return ticket


TAG_MAX = 50


def clean_tag_names(names) -> list[str]:
    """Tags as typed, trimmed, lower-cased, without duplicates; refuses unusable ones."""
    if isinstance(names, str):
        names = names.split(",")
    cleaned: list[str] = []
    for raw in names:
        name = " ".join(str(raw).split()).lower()
        if not name:
            continue
        if len(name) > TAG_MAX:
            raise ValidationError(
                {
                    "tags": _("A tag has at most %(n)d characters: “%(tag)s”.")
                    % {"n": TAG_MAX, "tag": name[:60]}
                }
            )
        if "\x00" in name:
            raise ValidationError({"tags": _("A tag cannot contain a NUL character.")})
        if name not in cleaned:
            cleaned.append(name)
    if len(cleaned) > 20:
        raise ValidationError({"tags": _("A request has at most 20 tags.")})
    return cleaned


@transaction.atomic
def set_tags(*, ticket: Ticket, actor: User, names, expected_version: int | None = None) -> Ticket:
    """Replace the request's tags (staff who triage); the change is on the timeline."""
    check_writable()
    permset = PermSet(actor)
    if not permset.has("desk.triage_ticket"):
        raise PermissionDenied(_("You may not tag requests."))
    wanted = clean_tag_names(names)
    ticket = _lock(ticket, expected_version)
    if not permset.may_view_ticket(ticket):
        raise PermissionDenied(_("You may not tag requests."))
    current = sorted(ticket.tags.values_list("name", flat=True))
    if sorted(wanted) == current:
        return ticket
    tags = []
    for name in wanted:
        tag, _created = Tag.objects.get_or_create(name=name)
        tags.append(tag)
    ticket.tags.set(tags)
    _touch(ticket, [])
    _event(
        ticket,
        actor,
        "desk.ticket.updated",
        field="tags",
        old=", ".join(current),
        new=", ".join(sorted(wanted)),
        internal=True,
    )
    return ticket


@transaction.atomic
def acknowledge(*, ticket: Ticket, actor: User) -> Ticket:
    """The desk confirms it has taken the request in (may count as first response)."""
    check_writable()
    permset = PermSet(actor)
    if not permset.is_agent:
        raise PermissionDenied(_("Only the service desk acknowledges requests."))
    ticket = _lock(ticket)
    if not permset.may_view_ticket(ticket):
        raise PermissionDenied(_("Only the service desk acknowledges requests."))
    if Event.objects.filter(ticket=ticket, action="desk.ticket.acknowledged").exists():
        return ticket
    _touch(ticket, [])
    _event(ticket, actor, "desk.ticket.acknowledged")
    return ticket


def archive_released(*, now=None, days: int | None = None) -> list[str]:
    """Archive requests Released more than ``days`` calendar days ago (default setting).

    Calendar days, as the support regulation says; each ticket is archived in its own
    transaction so one failure does not hold back the rest, and running it twice archives
    nothing twice (the second run finds them no longer Released).
    """
    check_writable()
    now = now or timezone.now()
    days = settings.AFTERCARE_ARCHIVE_AFTER_DAYS if days is None else days
    cutoff = now - timedelta(days=days)
    due = list(
        Ticket.objects.filter(status=Status.RELEASED, released_at__lte=cutoff)
        .order_by("released_at")
        .values_list("pk", flat=True)
    )
    archived = []
    for pk in due:
        with transaction.atomic():
            ticket = Ticket.objects.select_for_update().get(pk=pk)
            if ticket.status != Status.RELEASED:
                continue
            _apply_transition(
                ticket,
                None,
                Status.ARCHIVED,
                frozenset({workflow.SYSTEM}),
                at=now,
                note=deferred_note(
                    gettext_noop("Archived automatically %(days)d days after release."),
                    days=days,
                ),
            )
            archived.append(ticket.number)
    return archived


def deliver(*, ticket: Ticket, actor: User, note: str, at=None, delivery=None) -> bool:
    """Move a request that a production deployment delivered to Released (clocks stop).

    Called by ``lifecycle.services.deploy`` inside its transaction, after its own rules
    (who may deploy, the customer's approval) have passed. Requests already Released,
    archived or rejected are left alone; returns whether the request moved.
    """
    check_writable()
    ticket = _lock(ticket)
    if ticket.status in (Status.RELEASED, Status.ARCHIVED, Status.REJECTED):
        return False
    _apply_transition(
        ticket,
        actor,
        Status.RELEASED,
        frozenset({workflow.SYSTEM}),
        note=note,
        at=at,
        context={"delivery": delivery} if delivery is not None else None,
    )
    return True


def system_note(*, ticket: Ticket, action: str, note: str | Note) -> Event:
    """An internal audit note written by the system (e.g. mail intake refusing a file);
    a ``desk.notes.Note`` is shown in the reader's language."""
    check_writable()
    return _event(ticket, None, action, note=note, internal=True)
