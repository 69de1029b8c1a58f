"""From the desk's events to webhook deliveries: what is sent, to whom, with what payload.

``on_ticket_changed`` receives ``desk.signals.ticket_followup`` when the change's
follow-ups are expanded after its commit (``desk.followups``: one transaction that writes
the ``Delivery`` rows and deletes the follow-up). Each row is keyed on (source event,
subscription): the same change seen twice queues nothing twice.

Mapping (one webhook event per desk event, never two):

=============================================  =========================
``desk.ticket.created``                        ``ticket.created``
``desk.ticket.status_changed``                 ``ticket.status_changed`` (only)
``desk.ticket.assigned`` / ``escalated`` /
``reprioritised`` / ``updated`` /
``acknowledged``                               ``ticket.updated``
``desk.reply.added`` (public replies)          ``comment.created``
``sla.warning`` / ``sla.breached``             ``sla.warning`` / ``sla.breached``
=============================================  =========================

A status change is *not* also a ``ticket.updated``: a receiver subscribed to both would
otherwise get two deliveries for one change; whoever wants every change subscribes to
both names. ``change.kind`` tells the ``ticket.updated`` cases apart.

Never sent: internal notes (``desk.note.added``), not even to global subscriptions.
A webhook leaves Aftercare's access control for good: the receiver may be a chat
channel, a partner's CRM or a log that more people read than may read the notes, and a
posted note cannot be recalled. Nor is anything else the desk marks internal (the SLA
events are the exception: they carry only the metric and its deadline, never the note),
and nothing from Trello/CSV imports (``imports.*``): that is history, not news.
"""

from __future__ import annotations

import json
import logging
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from aftercare.desk.followups import write
from aftercare.desk.models import Event, Level, Message, Priority, Ticket
from aftercare.webhooks.models import PING, Delivery, EventName, Subscription

log = logging.getLogger(__name__)

ACTIONS: dict[str, str] = {
    "desk.ticket.created": EventName.TICKET_CREATED,
    "desk.ticket.status_changed": EventName.TICKET_STATUS_CHANGED,
    "desk.ticket.assigned": EventName.TICKET_UPDATED,
    "desk.ticket.escalated": EventName.TICKET_UPDATED,
    "desk.ticket.reprioritised": EventName.TICKET_UPDATED,
    "desk.ticket.updated": EventName.TICKET_UPDATED,
    "desk.ticket.acknowledged": EventName.TICKET_UPDATED,
    "desk.reply.added": EventName.COMMENT_CREATED,
    "sla.warning": EventName.SLA_WARNING,
    "sla.breached": EventName.SLA_BREACHED,
    # "desk.note.added" is deliberately absent: internal notes are never sent.
}
SLA_EVENTS = ("sla.warning", "sla.breached")
# Longest comment body sent; a longer one is cut and flagged (``body_truncated``).
MAX_BODY_CHARS = 64 * 1024


def webhook_event(event: Event) -> str | None:
    """The webhook event name for a desk event, or None if it is not sent."""
    if event.action.startswith("imports."):
        return None
    name = ACTIONS.get(event.action)
    if name is None:
        return None
    if event.is_internal and event.action not in SLA_EVENTS:
        return None
    return str(name)


# -- payload ----------------------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _priority(value) -> str:
    try:
        return Priority(int(value)).name.lower()
    except (TypeError, ValueError):
        return str(value)


def _level(value) -> str:
    try:
        return f"L{Level(int(value)).value}"
    except (TypeError, ValueError):
        return str(value)


def _value(field: str, raw: str) -> str:
    """Event values as the ticket block shows them (``priority`` "3" → "normal")."""
    if raw == "":
        return raw
    if field == "priority":
        return _priority(raw)
    if field == "level":
        return _level(raw)
    return raw


def _ticket_url(ticket: Ticket, *, for_staff: bool) -> str:
    name = "console:ticket" if for_staff else "portal:detail"
    return settings.AFTERCARE_BASE_URL + reverse(name, args=[ticket.number])


def _ticket(ticket: Ticket) -> dict:
    return {
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": _priority(ticket.priority),
        "category": ticket.category,
        "level": _level(ticket.level),
        "organisation": ticket.organisation.code,
        "reporter": ticket.reporter.display_name,
        "assignee": ticket.assignee.display_name if ticket.assignee_id else None,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "url": "",  # per subscription: see ``_for``
    }


def _change(event: Event) -> dict:
    # "created", "status_changed", "assigned", "escalated", "reprioritised", "updated",
    # "acknowledged", "reply", "warning", "breached": what happened, in one word.
    kind = "reply" if event.action == "desk.reply.added" else event.action.rsplit(".", 1)[-1]
    if event.action in SLA_EVENTS:
        # The event is internal on the timeline; its note is not sent, only the metric.
        return {"kind": kind, "field": "sla", "old": "", "new": event.new, "note": ""}
    return {
        "kind": kind,
        "field": event.field,
        "old": _value(event.field, event.old),
        "new": _value(event.field, event.new),
        "note": event.note,
    }


def _comment(ticket: Ticket, event: Event) -> dict | None:
    """The public reply an event announces (written in the same instant by ``reply``)."""
    public = Message.objects.filter(ticket=ticket, kind=Message.Kind.PUBLIC)
    message = (
        public.filter(created_at=event.created_at).order_by("-pk").first()
        or public.order_by("-created_at", "-pk").first()
    )
    if message is None:
        return None
    body = message.body
    return {
        "author": message.author.display_name if message.author_id else None,
        "body": body[:MAX_BODY_CHARS],
        "body_truncated": len(body) > MAX_BODY_CHARS,
        "created_at": _iso(message.created_at),
    }


def _sla(ticket: Ticket, event: Event) -> dict:
    from aftercare.sla.models import SlaClock

    clock = SlaClock.objects.filter(ticket=ticket, metric=event.new).first()
    return {
        "metric": event.new,
        "deadline": _iso(clock.deadline) if clock else None,
    }


def build_payload(ticket: Ticket, event: Event, name: str) -> dict:
    """The payload without ``id`` and ``ticket.url`` (those differ per subscription)."""
    payload: dict = {
        "id": "",
        "event": name,
        "occurred_at": _iso(event.created_at),
        "ticket": _ticket(ticket),
        "change": _change(event),
    }
    if name == EventName.COMMENT_CREATED:
        payload["comment"] = _comment(ticket, event)
    if event.action in SLA_EVENTS:
        payload["sla"] = _sla(ticket, event)
    return payload


def _for(base: dict, subscription: Subscription, ticket: Ticket, delivery_id: uuid.UUID) -> str:
    """The body for one subscription: a global hook is the vendor's (console links), an
    organisation's hook is the customer's (portal links)."""
    payload = {**base, "id": str(delivery_id)}
    payload["ticket"] = {
        **base["ticket"],
        "url": _ticket_url(ticket, for_staff=subscription.is_global),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


# -- queueing ---------------------------------------------------------------------------


def subscriptions_for(organisation_id: int, name: str) -> list[Subscription]:
    rows = Subscription.objects.filter(active=True).filter(
        Q(organisation__isnull=True) | Q(organisation_id=organisation_id)
    )
    return [s for s in rows.order_by("pk") if s.wants(name)]


def on_ticket_changed(sender, *, ticket: Ticket, event: Event, **kwargs) -> None:
    name = webhook_event(event)
    if name is None:
        return
    subscriptions = subscriptions_for(ticket.organisation_id, name)
    if not subscriptions:
        return
    base = build_payload(ticket, event, name)
    now = timezone.now()
    rows = []
    for subscription in subscriptions:
        delivery_id = uuid.uuid4()
        rows.append(
            Delivery(
                uuid=delivery_id,
                subscription=subscription,
                event=name,
                dedupe_key=f"ev{event.pk}:s{subscription.pk}",
                organisation_id=ticket.organisation_id,
                ticket=ticket,
                payload=_for(base, subscription, ticket, delivery_id),
                created_at=now,
                next_attempt_at=now,
            )
        )

    def save() -> None:
        if any([_save(row) for row in rows]):
            transaction.on_commit(kick)

    write(save)  # in the follow-up's short transaction, after the payloads are built


def _save(row: Delivery) -> bool:
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return False  # queued by an earlier run of the same change
    return True


def ping(subscription: Subscription) -> Delivery:
    """Queue a test delivery (admin action): proves the URL, TLS and signature check."""
    delivery_id = uuid.uuid4()
    now = timezone.now()
    body = {
        "id": str(delivery_id),
        "event": PING,
        "occurred_at": _iso(now),
        "subscription": {
            "name": subscription.name,
            "organisation": subscription.organisation.code if subscription.organisation else None,
            "events": list(subscription.events or []),
        },
    }
    row = Delivery.objects.create(
        uuid=delivery_id,
        subscription=subscription,
        event=PING,
        dedupe_key=f"ping:{delivery_id}",
        organisation=subscription.organisation,
        payload=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        created_at=now,
        next_attempt_at=now,
    )
    transaction.on_commit(kick)
    return row


def kick() -> None:
    """Ask the worker to deliver now; the periodic sweep catches what this misses."""
    from aftercare.webhooks.tasks import deliver_webhooks

    try:
        deliver_webhooks()
    except Exception:  # the periodic sweep delivers it later
        log.warning("could not enqueue the webhook delivery job", exc_info=True)
