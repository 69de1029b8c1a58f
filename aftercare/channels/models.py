"""Messenger chats linked to customers, the ledger of what arrived, and what was sent.

None of these use a scoped manager: like mail's ``InboundMessage``, a row may belong to
no organisation yet (an unknown chat); the services filter by what the viewer may see.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftercare.tenancy.models import Organisation


class ChannelKind(models.TextChoices):
    TELEGRAM = "telegram", _("Telegram")


class LinkCode(models.Model):
    """A one-time code a customer sends to the bot (``/start CODE``) to link their chat.

    Only the SHA-256 of the code is kept; it works once, until ``expires_at``."""

    channel = models.CharField(max_length=16, choices=ChannelKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.channel} code for {self.user_id}"


class ChatLink(models.Model):
    """A messenger chat that speaks for one customer user.

    ``organisation`` is the organisation new requests from the chat go to; empty when the
    user belongs to several and has not chosen (the bot asks, never guesses)."""

    channel = models.CharField(_("messenger"), max_length=16, choices=ChannelKind.choices)
    chat_id = models.CharField(_("chat"), max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_links",
        verbose_name=_("contact"),
    )
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("organisation"),
    )
    display_name = models.CharField(_("name in the messenger"), max_length=255, blank=True)
    linked_at = models.DateTimeField(_("linked"), default=timezone.now)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(_("active"), default=True)
    unlinked_at = models.DateTimeField(null=True, blank=True)
    # The request the chat is discussing: where a plain message goes as a reply.
    current_ticket = models.ForeignKey(
        "desk.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("linked chat")
        verbose_name_plural = _("linked chats")
        constraints = [
            # One active link per chat; unlinked rows stay as history.
            models.UniqueConstraint(
                fields=["channel", "chat_id"],
                condition=models.Q(active=True),
                name="unique_active_chat_link",
            )
        ]
        indexes = [models.Index(fields=["user", "active"], name="chatlink_user")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.chat_id} → {self.user_id}"


class ChatTicket(models.Model):
    """A request discussed in a chat: agents' public replies to it go back there."""

    link = models.ForeignKey(ChatLink, on_delete=models.CASCADE, related_name="tickets")
    ticket = models.ForeignKey("desk.Ticket", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["link", "ticket"], name="unique_chat_ticket")
        ]

    def __str__(self) -> str:
        return f"{self.link_id} ↔ {self.ticket_id}"


class ChannelMessage(models.Model):
    """One inbound messenger message, whatever became of it (the ledger and the triage).

    The unique key (channel, chat, platform message id) makes intake exactly-once: the
    same update delivered twice (a webhook retried, polling after a crash) is one row."""

    class Outcome(models.TextChoices):
        TICKET = "ticket", _("New request")
        REPLY = "reply", _("Reply")
        COMMAND = "command", _("Command")
        WAITING = "waiting", _("Waiting for the organisation")
        TRIAGE = "triage", _("Waiting in triage")
        REFUSED = "refused", _("Refused")
        DISCARDED = "discarded", _("Discarded")
        FAILED = "failed", _("Failed")

    channel = models.CharField(_("messenger"), max_length=16, choices=ChannelKind.choices)
    chat_id = models.CharField(_("chat"), max_length=64)
    platform_id = models.CharField(max_length=64)
    update_id = models.BigIntegerField(null=True, blank=True)
    sender_display = models.CharField(_("sender"), max_length=255, blank=True)
    text = models.TextField(_("text"), blank=True)
    # What the platform sent (file ids to fetch again from triage), bounded in size.
    payload = models.JSONField(default=dict, blank=True)
    attachment_names = models.JSONField(default=list, blank=True)
    reply_to = models.CharField(max_length=64, blank=True)
    link = models.ForeignKey(
        ChatLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticket = models.ForeignKey(
        "desk.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.TRIAGE
    )
    detail = models.TextField(blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("messenger message")
        verbose_name_plural = _("messenger messages")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "chat_id", "platform_id"], name="unique_channel_message"
            )
        ]
        indexes = [
            models.Index(fields=["outcome", "-received_at"], name="chanmsg_outcome"),
            models.Index(fields=["channel", "chat_id", "-received_at"], name="chanmsg_chat"),
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.chat_id}/{self.platform_id}"


class ChatDelivery(models.Model):
    """An agent's public reply on its way to a chat (the messenger outbox).

    Written in the reply's transaction (unique per message and chat: exactly once), sent
    by a job that retries, so a messenger outage never fails the agent's reply."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        RETRYING = "retrying", _("Retrying")
        FAILED = "failed", _("Failed")

    link = models.ForeignKey(ChatLink, on_delete=models.CASCADE, related_name="deliveries")
    ticket = models.ForeignKey("desk.Ticket", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey("desk.Message", on_delete=models.CASCADE, related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    text = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    platform_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    attempted_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("messenger delivery")
        verbose_name_plural = _("messenger deliveries")
        constraints = [
            models.UniqueConstraint(fields=["message", "link"], name="unique_chat_delivery")
        ]
        indexes = [models.Index(fields=["link", "platform_id"], name="chatdelivery_platform")]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.link_id}: {self.state}"
