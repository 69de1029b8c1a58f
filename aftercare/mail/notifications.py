"""Who is told what, by e-mail, when a request changes. One receiver per signal.

Receivers run when the change's follow-ups are expanded after its commit
(``desk.followups``), in one transaction with the follow-up's deletion; their keys
(event id + recipient) make them exactly-once.

Every notification about a request goes through ``_queue``, which drops recipients who
may not see that request (``PermSet.may_view_ticket``: a customer of another
organisation, an agent restricted to other organisations), so no producer can forget it.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet
from aftercare.desk.models import Approval, Event, Message, Status, Ticket

STATUS_KINDS = {
    Status.WAITING: "waiting",
    Status.DONE: "resolved",
    Status.RELEASED: "released",
    Status.REJECTED: "rejected",
}


def may_be_told(user: User | None, ticket: Ticket | None) -> bool:
    """Whether ``user`` may receive a notification about ``ticket``: only people who may
    see the request (the one rule, ``PermSet.may_view_ticket``)."""
    from aftercare.notifications.services import may_be_told as rule

    return rule(user, ticket)


def _queue(
    kind: str, *, key: str, ticket: Ticket, user: User | None, actor: User | None = None, **kwargs
) -> None:
    """The choke point: tell one person (in the app and, by their choice, by mail) unless
    they may not see the request."""
    from aftercare.notifications.services import tell

    tell(kind, key=key, ticket=ticket, user=user, actor=actor, **kwargs)


def _is_agent(user: User | None) -> bool:
    return user is not None and PermSet(user).is_agent


def _customer(ticket: Ticket) -> User | None:
    reporter = ticket.reporter
    return None if _is_agent(reporter) else reporter


REOPENED_FROM = (Status.DONE, Status.RELEASED, Status.ARCHIVED, Status.REJECTED)
WORK_STATUSES = (Status.BACKLOG, Status.SPRINT, Status.IN_PROGRESS)


def _latest_message(ticket: Ticket, kind: str, author: User | None) -> Message | None:
    rows = Message.objects.filter(ticket=ticket, kind=kind)
    if author is not None:
        rows = rows.filter(author=author)
    return rows.order_by("-created_at", "-pk").first()


def on_ticket_changed(sender, *, ticket: Ticket, event: Event, **kwargs) -> None:
    from aftercare.notifications.models import Follower
    from aftercare.notifications.services import mentioned_users

    action = event.action
    actor = event.actor
    key = f"ev{event.pk}"
    told: set[int] = set()

    def tell(kind: str, user: User | None, **params) -> None:
        if user is None or (actor is not None and user.pk == actor.pk and kind != "received"):
            return  # people are not told of what they did themselves, except the receipt
        if user.pk in told:
            return  # one notice per person per change, the most specific one
        told.add(user.pk)
        body = params.pop("body", "")
        _queue(
            kind,
            key=f"{key}:{kind}:{user.pk}",
            ticket=ticket,
            user=user,
            actor=actor,
            params=params,
            body=body,
        )

    def followers(*roles: str) -> list[User]:
        """The people following the request in these roles, the roles in this order."""
        rows = Follower.objects.filter(ticket=ticket, role__in=roles).select_related("user")
        found = list(rows.order_by("created_at", "pk"))
        return [f.user for role in roles for f in found if f.role == role]

    author = actor.display_name if actor else ""
    if action == "desk.ticket.created":
        tell("received", _customer(ticket))
    elif action == "desk.reply.added" and not event.is_internal:
        message = kwargs.get("message") or _latest_message(ticket, Message.Kind.PUBLIC, None)
        body = message.body if message else ""
        if _is_agent(actor):
            tell("reply", _customer(ticket), author=author, body=body)
        elif ticket.assignee_id:
            tell("customer_reply", ticket.assignee, author=author, body=body)
        for user in followers(Follower.Role.CC, Follower.Role.WATCHER):
            tell("update_reply", user, author=author, body=body)
    elif action == "desk.note.added":
        message = kwargs.get("message") or _latest_message(ticket, Message.Kind.INTERNAL, actor)
        body = message.body if message else ""
        for user in mentioned_users(body):
            tell("mention", user, author=author, body=body)
        for user in followers(Follower.Role.WATCHER):
            tell("update_note", user, author=author, body=body)
    elif action == "desk.ticket.status_changed":
        if event.old in REOPENED_FROM and event.new in WORK_STATUSES and not _is_agent(actor):
            # The customer is not satisfied: whoever works on it must know at once.
            owners = [ticket.assignee] if ticket.assignee_id else _consultants_for(ticket)
            for user in owners:
                tell("reopened", user, author=author or "—", body=event.note)
        if event.new == Status.ARCHIVED or actor is None and event.new != Status.WAITING:
            return  # automatic moves (archiving, a customer's reply resuming work) are quiet
        delivery = kwargs.get("delivery")
        customer = _customer(ticket)
        if event.new == Status.RELEASED and delivery is not None and customer is not None:
            # Delivered by a deployment: say which version, and what changed, in the
            # customer's language.
            from aftercare.lifecycle.models import notes_in

            release = delivery.release
            tell(
                "delivered",
                customer,
                product=release.product.name,
                version=release.label,
                environment=delivery.environment.name,
                body=notes_in(release, customer.language),
            )
        else:
            kind = STATUS_KINDS.get(event.new, "status")
            tell(kind, customer, reason=ticket.rejection_reason or event.note)
        for user in followers(Follower.Role.CC, Follower.Role.WATCHER):
            tell("update_status", user)
    elif action == "desk.ticket.assigned" and ticket.assignee_id:
        if not _escalated_with_it(ticket, event):
            tell("assigned", ticket.assignee)
    elif action == "desk.ticket.escalated":
        assignee = ticket.assignee if ticket.assignee_id else None
        told_ = [assignee] if may_be_told(assignee, ticket) else _consultants_for(ticket)
        for user in told_:
            tell("escalated", user, note=event.note or "—")
    elif action == "desk.ticket.merged":
        # This request (the duplicate) went into ``event.new``: its customer and CCs are
        # told where the conversation goes on.
        for user in [_customer(ticket), *followers(Follower.Role.CC)]:
            tell("merged", user, survivor=event.new, body=event.note)
    elif action == "desk.ticket.merge_received":
        duplicate = Ticket.objects.filter(number=event.old).only("reporter_id").first()
        already = {duplicate.reporter_id} if duplicate is not None else set()
        for user in [_customer(ticket), *followers(Follower.Role.CC)]:
            if user is not None and user.pk not in already:
                tell("merge_received", user, duplicate=event.old, body=event.note)
    elif action in ("desk.approval.approved", "desk.approval.declined"):
        approval = (
            Approval.objects.filter(ticket=ticket).exclude(decided_at=None).order_by("-decided_at")
        ).first()
        if approval is not None:
            kind = "approval_" + action.rsplit(".", 1)[1]
            _queue(
                kind,
                key=f"{key}:{kind}:{approval.requested_by_id}",
                ticket=ticket,
                user=approval.requested_by,
                actor=actor,
                params={"author": author},
                body=approval.action
                + (f"\n\n{approval.decision_note}" if approval.decision_note else ""),
            )


def on_approval_requested(sender, *, approval: Approval, links, **kwargs) -> None:
    ticket = approval.ticket
    for user, token in links:
        base = settings.AFTERCARE_BASE_URL
        _queue(
            "approval",
            key=f"approval{approval.pk}:{user.pk}",
            ticket=ticket,
            user=user,
            params={"author": approval.requested_by.display_name},
            body=approval.action,
            extra={
                "approve_link": base + reverse("approval", args=[token]) + "?d=approve",
                "decline_link": base + reverse("approval", args=[token]) + "?d=decline",
                "expires": formats.date_format(
                    timezone.localtime(approval.expires_at), "DATETIME_FORMAT"
                ),
                "approval_id": approval.pk,
            },
        )


def on_sla_notification(sender, *, instance, created: bool, **kwargs) -> None:
    """An SLA warning or breach for a staff member, held until their working hours."""
    if not created:
        return
    from aftercare.sla.calendar import BusinessCalendar

    user = instance.user
    clock = instance.clock
    ticket = instance.ticket
    if not may_be_told(user, ticket):
        return  # also checked where the row is made (sla.services._notify)
    try:
        calendar = BusinessCalendar(user.time_zone or settings.TIME_ZONE)
    except (KeyError, ValueError):  # an unknown zone on an old account: send at once
        calendar = None
    now = timezone.now()
    not_before = calendar.next_opening(now) if calendar is not None else now
    _queue(
        "sla_breached" if instance.kind == "breached" else "sla_warning",
        key=f"sla{instance.pk}",
        ticket=ticket,
        user=user,
        params={
            "metric": clock.get_metric_display(),
            "due": formats.date_format(timezone.localtime(clock.deadline), "DATETIME_FORMAT"),
        },
        not_before=not_before,
    )


def _escalated_with_it(ticket: Ticket, event: Event) -> bool:
    """An escalation to a named consultant also assigns: the consultant was told once, of
    the escalation (the event just before, in the same change)."""
    previous = (
        Event.objects.filter(ticket=ticket, pk__lt=event.pk)
        .order_by("-pk")
        .only("action", "actor_id", "created_at")
        .first()
    )
    return (
        previous is not None
        and previous.action == "desk.ticket.escalated"
        and previous.actor_id == event.actor_id
        and abs((event.created_at - previous.created_at).total_seconds()) < 5
    )


def _consultants_for(ticket: Ticket) -> list[User]:
    """L2 consultants who can see the request (used when it has no assignee)."""
    from aftercare.accounts.querysets import consultants_seeing

    return [u for u in consultants_seeing(ticket.organisation_id) if may_be_told(u, ticket)]
