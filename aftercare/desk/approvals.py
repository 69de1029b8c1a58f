"""Customer approval before sensitive actions (support regulation: written consent).

An agent asks; the organisation's coordinators (or, if it has none, the reporter) decide
with a signed one-time link from the e-mail, in the portal, or by replying "approve" /
"decline". Until an approval for a target status is granted, the move to that status is
refused — ``blocking()`` is consulted by the workflow in ``services._apply_transition``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet, Role
from aftercare.desk.models import Approval, ApprovalLink, Status, Ticket
from aftercare.desk.signals import approval_requested
from aftercare.ops.maintenance import check_writable
from aftercare.tenancy.models import Membership

SALT = "aftercare.desk.approval"


class ApprovalError(Exception):
    """The link or decision cannot be used; ``message`` says why, for the person."""

    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def approvers(ticket: Ticket) -> list[User]:
    """Who may decide: the organisation's coordinators, else the reporter."""
    coordinators = [
        m.user
        for m in Membership.objects.with_scopes_disabled()
        .filter(organisation_id=ticket.organisation_id, role=Role.COORDINATOR, user__is_active=True)
        .select_related("user")
        .order_by("user_id")
    ]
    if coordinators:
        return coordinators
    reporter = ticket.reporter
    # A reporter who has left the organisation since is nobody's approver.
    return [reporter] if reporter.is_active and PermSet(reporter).may_view_ticket(ticket) else []


def may_decide(user: User, ticket: Ticket) -> bool:
    return (
        user.is_authenticated
        and any(u.pk == user.pk for u in approvers(ticket))
        and PermSet(user).may_view_ticket(ticket)
    )


def blocking(ticket: Ticket, target: str) -> Approval | None:
    """The approval that keeps ``ticket`` from moving to ``target``, if any."""
    rows = list(
        Approval.objects.with_scopes_disabled()
        .filter(ticket_id=ticket.pk, target_status=target)
        .exclude(state=Approval.State.WITHDRAWN)
        .order_by("-requested_at")
    )
    if not rows or any(a.state == Approval.State.APPROVED for a in rows):
        return None
    return rows[0]


def _event(ticket: Ticket, actor, action: str, note: str = "") -> None:
    from aftercare.desk.services import _event as record

    record(ticket, actor, action, note=note)


def _refuse_duplicate(ticket: Ticket, *, action: str, target_status: str) -> None:
    """One pending approval per move: a second one would e-mail the approvers twice and
    leave two answers that may disagree. The ticket row is locked so two agents asking at
    the same moment are serialised. Expired approvals do not count (nobody can answer
    them); without a target status, only the same action text counts as the same move."""
    Ticket.objects.with_scopes_disabled().select_for_update().filter(pk=ticket.pk).first()
    pending = (
        Approval.objects.with_scopes_disabled()
        .filter(ticket_id=ticket.pk, state=Approval.State.PENDING, expires_at__gt=timezone.now())
        .select_related("requested_by")
        .order_by("requested_at")
    )
    for existing in pending:
        same = (
            existing.target_status == target_status
            if target_status
            else not existing.target_status and existing.action.strip() == action
        )
        if not same:
            continue
        params = {
            "action": existing.action[:200],
            "who": existing.requested_by.display_name,
            "when": formats.date_format(
                timezone.localtime(existing.requested_at), "SHORT_DATETIME_FORMAT"
            ),
        }
        if target_status:
            params["status"] = existing.get_target_status_display()
            message = _(
                "An approval for the move to “%(status)s” is already pending: “%(action)s”, "
                "asked by %(who)s on %(when)s. Wait for the answer or withdraw it first."
            )
        else:
            message = _(
                "The same approval is already pending: “%(action)s”, asked by %(who)s on "
                "%(when)s. Wait for the answer or withdraw it first."
            )
        raise ValidationError(message % params, code="duplicate_pending")


@transaction.atomic
def request(
    *, ticket: Ticket, actor: User, action: str, target_status: str = "", days: int | None = None
) -> Approval:
    check_writable()
    permset = PermSet(actor)
    if not permset.has("desk.request_approval") or not permset.ticket_roles(ticket):
        raise PermissionDenied(_("You may not ask for approvals."))
    action = action.strip()
    if not action:
        raise ValidationError(
            {"action": _("Describe the action the customer is asked to approve.")}
        )
    if target_status and target_status not in Status.values:
        raise ValidationError({"target_status": _("Choose a status.")})
    _refuse_duplicate(ticket, action=action, target_status=target_status)
    people = [u for u in approvers(ticket) if u.email]
    if not people:
        raise ValidationError(
            _(
                "Nobody at this organisation can approve: it has no coordinator with an e-mail address."
            )
        )
    now = timezone.now()
    days = days or settings.AFTERCARE_APPROVAL_DAYS
    approval = Approval.objects.create(
        ticket=ticket,
        organisation_id=ticket.organisation_id,
        action=action,
        target_status=target_status,
        requested_by=actor,
        requested_at=now,
        expires_at=now + timedelta(days=days),
    )
    links = []
    for user in people:
        nonce = secrets.token_urlsafe(24)
        link = ApprovalLink.objects.create(
            approval=approval,
            organisation_id=ticket.organisation_id,
            user=user,
            nonce_hash=_hash(nonce),
        )
        links.append((user, signing.dumps({"l": link.pk, "n": nonce}, salt=SALT)))
    _event(ticket, actor, "desk.approval.requested", note=action)
    approval_requested.send(sender=Approval, approval=approval, links=links)
    return approval


def link_for_token(token: str) -> ApprovalLink:
    """The link a token stands for, or ``ApprovalError`` (forged, used, expired)."""
    try:
        data = signing.loads(token, salt=SALT)
        link = (
            ApprovalLink.objects.with_scopes_disabled()
            .select_related("approval", "approval__ticket", "user")
            .get(pk=int(data["l"]))
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError, ApprovalLink.DoesNotExist):
        raise ApprovalError(_("This approval link is not valid.")) from None
    if not secrets.compare_digest(link.nonce_hash, _hash(str(data.get("n", "")))):
        raise ApprovalError(_("This approval link is not valid."))
    return link


def _check_open(approval: Approval) -> None:
    if approval.state != Approval.State.PENDING:
        raise ApprovalError(
            _("This approval was already answered: %(state)s.")
            % {"state": approval.get_state_display()}
        )
    if approval.expires_at <= timezone.now():
        raise ApprovalError(
            _("This approval request has expired. Ask the service desk to send a new one.")
        )


@transaction.atomic
def decide(
    *,
    approval: Approval,
    user: User,
    approve: bool,
    via: str,
    note: str = "",
    link: ApprovalLink | None = None,
) -> Approval:
    check_writable()
    approval = Approval.objects.with_scopes_disabled().select_for_update().get(pk=approval.pk)
    _check_open(approval)
    if link is not None:
        link = ApprovalLink.objects.with_scopes_disabled().select_for_update().get(pk=link.pk)
        if link.used_at is not None:
            raise ApprovalError(_("This approval link was already used."))
        if link.user_id != user.pk:
            raise ApprovalError(_("This approval link is not valid."))
        link.used_at = timezone.now()
        link.save(update_fields=["used_at"])
    if not user.is_active or not may_decide(user, approval.ticket):
        raise PermissionDenied(_("You may not decide on this approval."))
    approval.state = Approval.State.APPROVED if approve else Approval.State.DECLINED
    approval.decided_by = user
    approval.decided_at = timezone.now()
    approval.decided_via = via
    approval.decision_note = note.strip()
    approval.save(
        update_fields=["state", "decided_by", "decided_at", "decided_via", "decision_note"]
    )
    summary = _("%(action)s — via %(via)s") % {
        "action": approval.action,
        "via": approval.get_decided_via_display(),
    }
    if approval.decision_note:
        summary += f"\n{approval.decision_note}"
    _event(
        approval.ticket,
        user,
        "desk.approval.approved" if approve else "desk.approval.declined",
        note=summary,
    )
    return approval


def decide_by_token(*, token: str, approve: bool, note: str = "") -> Approval:
    link = link_for_token(token)
    return decide(
        approval=link.approval,
        user=link.user,
        approve=approve,
        via=Approval.Via.LINK,
        note=note,
        link=link,
    )


@transaction.atomic
def withdraw(*, approval: Approval, actor: User, reason: str = "") -> Approval:
    check_writable()
    permset = PermSet(actor)
    if not permset.has("desk.request_approval") or not permset.ticket_roles(approval.ticket):
        raise PermissionDenied(_("You may not withdraw approvals."))
    approval = Approval.objects.with_scopes_disabled().select_for_update().get(pk=approval.pk)
    if approval.state != Approval.State.PENDING:
        raise ApprovalError(_("Only a pending approval can be withdrawn."))
    approval.state = Approval.State.WITHDRAWN
    approval.decided_at = timezone.now()
    approval.decision_note = reason.strip()
    approval.save(update_fields=["state", "decided_at", "decision_note"])
    _event(approval.ticket, actor, "desk.approval.withdrawn", note=approval.action)
    return approval


@transaction.atomic
def undo_decision(*, approval: Approval, actor: User, reason: str) -> Approval:
    """Staff take back an approval's answer (approved or declined) that was wrong, e.g. a
    reply read the wrong way. History is kept as it happened: the answered approval keeps
    who decided, when and how, and is set aside (withdrawn, with the reason in its note),
    and a new pending approval for the same action asks the approvers again (new links by
    e-mail). Returns the new approval. Refused while the request already stands in the
    status the approval was for: move it back first."""
    check_writable()
    permset = PermSet(actor)
    approval = Approval.objects.with_scopes_disabled().select_for_update().get(pk=approval.pk)
    ticket = approval.ticket
    if (
        not permset.is_agent
        or not permset.has("desk.request_approval")
        or not permset.sees_organisation(ticket.organisation_id)
        or not permset.ticket_roles(ticket)
    ):
        raise PermissionDenied(_("You may not take back approvals."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give a reason: it is kept in the history.")})
    if approval.state not in (Approval.State.APPROVED, Approval.State.DECLINED):
        raise ApprovalError(_("Only an approved or declined approval can be taken back."))
    if approval.target_status and ticket.status == approval.target_status:
        raise ApprovalError(
            _("The request is already “%(status)s”: move it back before taking back the approval.")
            % {"status": ticket.get_status_display()}
        )
    old_state = approval.get_state_display()
    who = approval.decided_by.display_name if approval.decided_by else "—"
    undone = _("Taken back by %(who)s: %(reason)s") % {
        "who": actor.display_name,
        "reason": reason[:1000],
    }
    approval.state = Approval.State.WITHDRAWN
    approval.decision_note = f"{approval.decision_note}\n{undone}".strip()
    approval.save(update_fields=["state", "decision_note"])
    _event(
        ticket,
        actor,
        "desk.approval.undone",
        note=_("%(action)s — %(state)s by %(who)s, taken back: %(reason)s")
        % {"action": approval.action, "state": old_state, "who": who, "reason": reason[:1000]},
    )
    return request(
        ticket=ticket,
        actor=actor,
        action=approval.action,
        target_status=approval.target_status,
    )
