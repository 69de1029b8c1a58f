"""Agents' public replies go back to the chats that discuss the request.

The receiver runs when the reply's follow-ups are expanded after its commit
(``desk.signals.ticket_followup``) and only writes ``ChatDelivery`` rows (unique per message and chat, so exactly once); the
sending happens in a job after the commit, with retries, so a messenger outage never
fails or slows the agent's reply. Internal notes never produce a row. A chat gets the
reply only while its contact may still see the request (the one rule,
``PermSet.may_view_ticket``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from aftercare.accounts.roles import PermSet
from aftercare.channels.base import ChannelError, OutboundFile, adapter_for
from aftercare.channels.models import ChatDelivery, ChatTicket
from aftercare.desk.followups import write
from aftercare.desk.models import Attachment, Event, Message, Ticket

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
MAX_FILE_BYTES = 20 * 1024 * 1024


def on_ticket_changed(sender, *, ticket: Ticket, event: Event, **kwargs) -> None:
    if event.action != "desk.reply.added" or event.is_internal:
        return
    actor = event.actor
    if actor is None or not PermSet(actor).is_agent:
        return  # the customer's own words are not echoed back to them
    message = kwargs.get("message") or (
        Message.objects.filter(ticket=ticket, kind=Message.Kind.PUBLIC, author=actor)
        .order_by("-created_at", "-pk")
        .first()
    )
    if message is None:
        return
    chats = ChatTicket.objects.filter(ticket=ticket, link__active=True).select_related(
        "link", "link__user"
    )
    texts = []
    for chat in chats:
        if not PermSet(chat.link.user).may_view_ticket(ticket):
            continue
        with translation.override(chat.link.user.language or None):
            text = _("%(number)s — %(author)s:\n%(body)s") % {
                "number": ticket.number,
                "author": actor.display_name,
                "body": message.body,
            }
        texts.append((chat.link, text))

    def save() -> None:
        created = []
        for link, text in texts:
            delivery, made = ChatDelivery.objects.get_or_create(
                message=message,
                link=link,
                defaults={
                    "ticket": ticket,
                    "organisation_id": ticket.organisation_id,
                    "text": text,
                },
            )
            if made:
                created.append(delivery.pk)
        if created:
            from aftercare.channels.tasks import deliver

            transaction.on_commit(lambda: [deliver(pk) for pk in created])

    if texts:
        write(save)  # in the follow-up's short transaction (``desk.followups``)


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 240))


def send(delivery_id: int) -> str:
    """Send one delivery (claimed by a conditional update, so two workers never both
    send it). Returns the new state."""
    now = timezone.now()
    claimed = ChatDelivery.objects.filter(
        pk=delivery_id, state__in=[ChatDelivery.State.QUEUED, ChatDelivery.State.RETRYING]
    ).update(attempts=F("attempts") + 1, state=ChatDelivery.State.RETRYING, attempted_at=now)
    if not claimed:
        return ""
    delivery = ChatDelivery.objects.select_related("link", "message").get(pk=delivery_id)
    if not delivery.link.active or not PermSet(delivery.link.user).may_view_ticket(delivery.ticket):
        delivery.state = ChatDelivery.State.FAILED
        delivery.last_error = "the chat was unlinked or may no longer see the request"
        delivery.save(update_fields=["state", "last_error"])
        return delivery.state
    files = []
    for att in Attachment.objects.filter(message=delivery.message, is_internal=False).order_by(
        "pk"
    ):
        if att.size > MAX_FILE_BYTES:
            continue
        try:
            with att.file.open("rb") as fh:
                files.append(OutboundFile(att.name, att.content_type, fh.read()))
        except OSError as exc:
            log.warning("attachment %s unreadable for the messenger: %s", att.pk, exc)
    try:
        platform_id = adapter_for(delivery.link.channel).send(
            delivery.link.chat_id, delivery.text, tuple(files)
        )
    except ChannelError as exc:
        delivery.last_error = str(exc)[:2000]
        delivery.state = (
            ChatDelivery.State.FAILED
            if delivery.attempts >= MAX_ATTEMPTS
            else ChatDelivery.State.RETRYING
        )
        delivery.save(update_fields=["state", "last_error"])
        log.warning("messenger delivery %s failed (%s): %s", delivery.pk, delivery.attempts, exc)
        return delivery.state
    delivery.state = ChatDelivery.State.SENT
    delivery.platform_id = platform_id[:64]
    delivery.sent_at = timezone.now()
    delivery.last_error = ""
    delivery.save(update_fields=["state", "platform_id", "sent_at", "last_error"])
    return delivery.state


def send_due(now=None) -> dict:
    """The sweep: queued rows a crashed worker left, and retries whose back-off passed."""
    now = now or timezone.now()
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    due = ChatDelivery.objects.filter(
        Q(state=ChatDelivery.State.QUEUED, created_at__lte=now - timedelta(minutes=1))
        | Q(state=ChatDelivery.State.RETRYING)
    ).order_by("pk")
    for delivery in due[:200]:
        if delivery.state == ChatDelivery.State.RETRYING:
            last = delivery.attempted_at or delivery.created_at
            if last + _backoff(delivery.attempts) > now:
                continue
        state = send(delivery.pk)
        if state in counts:
            counts[state] += 1
    return counts
