"""Related requests and duplicates: link two requests, or merge a duplicate into another.

Both work within one organisation only: a link or a merge across customers would show one
customer's request (its number, subject, conversation) to another.

A merge moves the duplicate's conversation and history to the survivor and closes the
duplicate (Rejected, "Merged into AC-…", ``merged_into`` set) through the workflow's own
status code, so its SLA clocks stop like any rejection's. What moves and what stays:

* messages, attachments, time entries, tags (union), followers (except people already
  following the survivor) and links (re-pointed; a link to the survivor itself or one the
  survivor already has is dropped) move;
* the history (events) moves, except the duplicate's own birth certificate and clock
  events — ``desk.ticket.created``, ``desk.ticket.acknowledged`` and ``sla.*`` — which
  describe the duplicate's own service levels and would otherwise make the survivor look
  acknowledged or breached;
* pending approvals are *withdrawn* (audited on the duplicate), not moved: they were asked
  about the duplicate's moves, and moved to the survivor they would block its workflow
  with a question nobody asked about it. Answered approvals stay with the duplicate.

Mail to the duplicate (its number, reply token or thread) is followed to the survivor by
``resolve_merged`` in mail intake, when the sender may write there.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet
from aftercare.desk import workflow
from aftercare.desk.models import (
    CLOSED_STATUSES,
    Approval,
    Attachment,
    Event,
    Message,
    Status,
    Ticket,
    TicketLink,
)
from aftercare.desk.services import _apply_transition, _event, _lock, _touch
from aftercare.ops.maintenance import check_writable

# Following ``merged_into``: a chain longer than this is cut (and a loop never followed).
MAX_HOPS = 5
# Events that describe the duplicate itself (its registration, its own SLA clocks).
KEPT_ON_DUPLICATE = ("desk.ticket.created", "desk.ticket.acknowledged")


def resolve_merged(ticket: Ticket) -> Ticket:
    """The request ``ticket`` ended up in: follow ``merged_into`` a few hops, never a loop.

    Returns ``ticket`` itself when it was not merged.
    """
    seen = {ticket.pk}
    current = ticket
    for _hop in range(MAX_HOPS):
        if current.merged_into_id is None:
            break
        following = Ticket.objects.filter(pk=current.merged_into_id).first()
        if following is None or following.pk in seen:
            break
        seen.add(following.pk)
        current = following
    return current


def visible_survivor(permset: PermSet, ticket: Ticket) -> Ticket | None:
    """The survivor of a merged ``ticket`` if this user may see it, else None."""
    if ticket.merged_into_id is None:
        return None
    survivor = resolve_merged(ticket)
    if survivor.pk == ticket.pk or not permset.may_view_ticket(survivor):
        return None
    return survivor


def _check_pair(permset: PermSet, ticket: Ticket, other: Ticket, refusal: str) -> None:
    """The rules a link and a merge share; visibility first, so that nothing is said about
    a request the user may not see."""
    if not (permset.may_view_ticket(ticket) and permset.may_view_ticket(other)):
        raise PermissionDenied(refusal)
    if ticket.pk == other.pk:
        raise ValidationError(_("A request cannot be linked to or merged with itself."))
    if ticket.organisation_id != other.organisation_id:
        raise ValidationError(
            _(
                "%(a)s and %(b)s belong to different customers; only requests of the same "
                "customer can be linked or merged."
            )
            % {"a": ticket.number, "b": other.number}
        )


def _lock_pair(a: Ticket, b: Ticket) -> tuple[Ticket, Ticket]:
    """Lock both rows in id order, so that two merges or links of the same pair made at
    the same moment wait for each other instead of deadlocking."""
    locked = {t.pk: _lock(t) for t in sorted((a, b), key=lambda t: t.pk)}
    return locked[a.pk], locked[b.pk]


def _pair(a: Ticket, b: Ticket) -> tuple[int, int]:
    return (a.pk, b.pk) if a.pk < b.pk else (b.pk, a.pk)


@transaction.atomic
def link(*, ticket: Ticket, other: Ticket, actor: User) -> bool:
    """Mark two requests of one customer as related. Linking twice changes nothing.

    Returns whether a link was made. Any agent who may see both requests may link them.
    """
    check_writable()
    permset = PermSet(actor)
    refusal = _("You may not link these requests.")
    if not permset.is_agent:
        raise PermissionDenied(refusal)
    _check_pair(permset, ticket, other, refusal)
    ticket, other = _lock_pair(ticket, other)
    for t in (ticket, other):
        if t.merged_into_id is not None:
            raise ValidationError(
                _("%(number)s was merged into another request; link that one instead.")
                % {"number": t.number}
            )
    source_id, target_id = _pair(ticket, other)
    if TicketLink.objects.filter(source_id=source_id, target_id=target_id).exists():
        return False
    TicketLink.objects.create(
        organisation_id=ticket.organisation_id,
        source_id=source_id,
        target_id=target_id,
        created_by=actor,
    )
    now = timezone.now()
    for one, two in ((ticket, other), (other, ticket)):
        _touch(one, [], at=now)
        _event(
            one, actor, "desk.ticket.linked", field="link", new=two.number, internal=True, at=now
        )
    return True


@transaction.atomic
def unlink(*, ticket: Ticket, other: Ticket, actor: User) -> bool:
    """Remove the link between two requests; returns whether there was one."""
    check_writable()
    permset = PermSet(actor)
    refusal = _("You may not unlink these requests.")
    if not permset.is_agent:
        raise PermissionDenied(refusal)
    _check_pair(permset, ticket, other, refusal)
    ticket, other = _lock_pair(ticket, other)
    source_id, target_id = _pair(ticket, other)
    deleted, _rows = TicketLink.objects.filter(source_id=source_id, target_id=target_id).delete()
    if not deleted:
        return False
    now = timezone.now()
    for one, two in ((ticket, other), (other, ticket)):
        _touch(one, [], at=now)
        _event(
            one, actor, "desk.ticket.unlinked", field="link", old=two.number, internal=True, at=now
        )
    return True


def merge_refusal(duplicate: Ticket, survivor: Ticket | None = None) -> str:
    """Why ``duplicate`` cannot be merged (into ``survivor``), or "" if it can.

    The page asks this too, to offer the merge form only where it may work.
    """
    if duplicate.merged_into_id is not None:
        return _("%(number)s was already merged into another request.") % {
            "number": duplicate.number
        }
    if workflow.rule_for(duplicate.status, Status.REJECTED) is None:
        return _(
            "%(number)s is “%(status)s”; only a request that can still be rejected "
            "(Backlog, Sprint, In progress, Waiting for customer) can be merged."
        ) % {"number": duplicate.number, "status": duplicate.get_status_display()}
    if survivor is None:
        return ""
    if survivor.merged_into_id is not None:
        return _("%(number)s was itself merged into another request; merge into that one.") % {
            "number": survivor.number
        }
    if survivor.status in CLOSED_STATUSES:
        return _("%(number)s is closed (%(status)s); merge into an open request.") % {
            "number": survivor.number,
            "status": survivor.get_status_display(),
        }
    return ""


def may_merge(permset: PermSet, ticket: Ticket) -> bool:
    """Whether this user is one who merges duplicates, for this request."""
    return (
        permset.is_agent and permset.has("desk.triage_ticket") and permset.may_view_ticket(ticket)
    )


@transaction.atomic
def merge(*, duplicate: Ticket, survivor: Ticket, actor: User, note: str = "") -> Ticket:
    """Merge ``duplicate`` into ``survivor`` (see the module's docstring); returns the
    survivor. Staff who triage (``desk.triage_ticket``) and see both requests may."""
    check_writable()
    permset = PermSet(actor)
    refusal = _("You may not merge requests.")
    if not permset.is_agent or not permset.has("desk.triage_ticket"):
        raise PermissionDenied(refusal)
    _check_pair(permset, duplicate, survivor, refusal)
    duplicate, survivor = _lock_pair(duplicate, survivor)
    why = merge_refusal(duplicate, survivor)
    if why:
        raise ValidationError(why)
    note = note.strip()
    now = timezone.now()

    Message.objects.filter(ticket=duplicate).update(ticket=survivor)
    Attachment.objects.filter(ticket=duplicate).update(ticket=survivor)
    (
        Event.objects.filter(ticket=duplicate)
        .exclude(action__in=KEPT_ON_DUPLICATE)
        .exclude(action__startswith="sla.")
        .update(ticket=survivor)
    )
    _move_time_and_followers(duplicate, survivor)
    tags = list(duplicate.tags.all())
    if tags:
        survivor.tags.add(*tags)
    _move_links(duplicate, survivor)
    _withdraw_pending_approvals(duplicate, survivor, actor, now)

    duplicate.merged_into = survivor
    duplicate.save(update_fields=["merged_into"])
    rule = workflow.rule_for(duplicate.status, Status.REJECTED)
    # The close is the merge's consequence, made by the system: the actor's right was
    # checked above (desk.triage_ticket). The table has no system rejection, so the system
    # stands in with the rule's own roles; the rule's duties (a reason, stopping the SLA
    # clocks) still apply, and with no actor the customer gets no "rejected" mail — they
    # are told of the merge instead (``desk.ticket.merged``).
    roles = frozenset({workflow.SYSTEM, *(rule.roles if rule else ())})
    _apply_transition(
        duplicate,
        None,
        Status.REJECTED,
        roles,
        reason=_("Merged into %(number)s") % {"number": survivor.number},
        at=now,
    )
    _event(
        duplicate,
        actor,
        "desk.ticket.merged",
        field="merged_into",
        new=survivor.number,
        note=note,
        at=now,
    )
    _touch(survivor, [], at=now)
    _event(
        survivor,
        actor,
        "desk.ticket.merge_received",
        field="merged_from",
        old=duplicate.number,
        note=note,
        at=now,
    )
    return survivor


def _move_time_and_followers(duplicate: Ticket, survivor: Ticket) -> None:
    from aftercare.notifications.models import Follower
    from aftercare.timetracking.models import TimeEntry

    TimeEntry.objects.filter(ticket=duplicate).update(ticket=survivor)
    following = Follower.objects.filter(ticket=survivor).values_list("user_id", flat=True)
    Follower.objects.filter(ticket=duplicate).exclude(user_id__in=list(following)).update(
        ticket=survivor
    )


def _move_links(duplicate: Ticket, survivor: Ticket) -> None:
    """Re-point the duplicate's links to the survivor; drop those that would link the
    survivor to itself or repeat a link it already has."""
    rows = list(TicketLink.objects.filter(Q(source=duplicate) | Q(target=duplicate)))
    for row in rows:
        other_id = row.target_id if row.source_id == duplicate.pk else row.source_id
        row.delete()
        if other_id == survivor.pk:
            continue
        source_id, target_id = sorted((survivor.pk, other_id))
        TicketLink.objects.get_or_create(
            source_id=source_id,
            target_id=target_id,
            defaults={
                "organisation_id": survivor.organisation_id,
                "created_by_id": row.created_by_id,
                "created_at": row.created_at,
            },
        )


def _withdraw_pending_approvals(duplicate: Ticket, survivor: Ticket, actor: User, now) -> None:
    pending = list(Approval.objects.filter(ticket=duplicate, state=Approval.State.PENDING))
    for approval in pending:
        approval.state = Approval.State.WITHDRAWN
        approval.decided_at = now
        approval.decision_note = _("Merged into %(number)s") % {"number": survivor.number}
        approval.save(update_fields=["state", "decided_at", "decision_note"])
        _event(duplicate, actor, "desk.approval.withdrawn", note=approval.action, at=now)
