"""Mail in and out: mailboxes polled, every inbound message kept with its outcome, the outbox.

Inbound: each message read from a mailbox, a pipe or a file becomes one ``InboundMessage``
row, whatever happens to it (a new request, a reply, held for triage, rejected with a
reason, a bounce, an ignored automatic reply). The row's unique Message-ID and content
hash are what make intake exactly-once. The raw message is kept so an operator can look
at what arrived and a rejected message can be processed again.

Outbound: notifications are rows in ``OutboundMail`` written in the same transaction as
the change that caused them; the worker sends them, retrying with back-off.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftercare.desk.models import Category, Message, Ticket
from aftercare.tenancy.models import Organisation


class Mailbox(models.Model):
    class Security(models.TextChoices):
        SSL = "ssl", _("TLS (IMAPS, port 993)")
        STARTTLS = "starttls", _("STARTTLS (port 143)")
        NONE = "none", _("None (local test servers only)")

    name = models.CharField(_("name"), max_length=100, unique=True)
    address = models.EmailField(
        _("address"), help_text=_("The support address customers write to.")
    )
    host = models.CharField(_("IMAP host"), max_length=255)
    port = models.PositiveIntegerField(_("port"), default=993)
    security = models.CharField(
        _("security"), max_length=10, choices=Security.choices, default=Security.SSL
    )
    username = models.CharField(_("user name"), max_length=255)
    password = models.CharField(_("password"), max_length=255, blank=True)
    folder = models.CharField(_("folder"), max_length=255, default="INBOX")
    processed_folder = models.CharField(
        _("move processed mail to"),
        max_length=255,
        blank=True,
        help_text=_("Empty: processed messages are only marked as read."),
    )
    default_organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("default organisation"),
        help_text=_(
            "Used when a sender belongs to several organisations, or (if allowed below) "
            "for senders nobody knows."
        ),
    )
    register_unknown_senders = models.BooleanField(
        _("register unknown senders"),
        default=False,
        help_text=_(
            "Make unknown senders contacts of the default organisation. Off: their mail "
            "waits in triage."
        ),
    )
    default_category = models.CharField(
        _("default category"), max_length=20, choices=Category.choices, default=Category.INCIDENT
    )
    improvement_address = models.EmailField(
        _("address for improvement proposals"),
        blank=True,
        help_text=_(
            "An alias delivered to this mailbox (e.g. ideas@…). New mail sent to it opens "
            "an improvement suggestion instead of the default category."
        ),
    )
    batch_size = models.PositiveIntegerField(_("messages per fetch"), default=50)
    is_active = models.BooleanField(_("active"), default=True)
    last_fetch_at = models.DateTimeField(_("last fetch"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last successful fetch"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>"


def raw_path(instance: InboundMessage, filename: str) -> str:
    today = timezone.now()
    return f"mail/{today:%Y/%m}/{uuid.uuid4().hex}.eml"


class InboundMessage(models.Model):
    class Outcome(models.TextChoices):
        TICKET = "ticket", _("New request")
        REPLY = "reply", _("Reply")
        APPROVAL = "approval", _("Approval decision")
        TRIAGE = "triage", _("Waiting in triage")
        REJECTED = "rejected", _("Rejected")
        BOUNCE = "bounce", _("Bounce")
        IGNORED = "ignored", _("Ignored")
        DISCARDED = "discarded", _("Discarded in triage")

    message_id = models.CharField(max_length=998, blank=True, db_index=True)
    # A different message reusing an earlier one's Message-ID keeps it here, not in
    # ``message_id``: it is processed as a message of its own and nothing threads to it
    # as if it were the earlier one. ``same_id_as`` is that earlier message.
    reused_message_id = models.CharField(_("reused Message-ID"), max_length=998, blank=True)
    same_id_as = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("same Message-ID as"),
    )
    content_hash = models.CharField(max_length=64, unique=True)
    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    source = models.CharField(_("source"), max_length=255, blank=True)
    sender = models.CharField(_("sender"), max_length=320, blank=True, db_index=True)
    sender_name = models.CharField(max_length=255, blank=True)
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    size = models.PositiveIntegerField(default=0)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    reason = models.CharField(_("reason"), max_length=40, blank=True)
    detail = models.TextField(_("detail"), blank=True)
    auto_submitted = models.BooleanField(default=False)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_mail"
    )
    ticket_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    raw = models.FileField(upload_to=raw_path, max_length=255, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        constraints = [
            models.UniqueConstraint(
                fields=["message_id"],
                condition=~models.Q(message_id=""),
                name="unique_inbound_message_id",
            )
        ]
        indexes = [
            models.Index(fields=["outcome", "-received_at"], name="inbound_outcome"),
            models.Index(fields=["sender", "-received_at"], name="inbound_sender"),
        ]
        permissions = [("triage_mail", "Can handle mail waiting in triage")]

    def __str__(self) -> str:
        return f"{self.sender}: {self.subject}"[:120]


class AddressStatus(models.Model):
    """What we know of an e-mail address: bounces, and when we last told it something."""

    address = models.CharField(max_length=320, unique=True)
    bounce_count = models.PositiveIntegerField(default=0)
    bounced_at = models.DateTimeField(null=True, blank=True)
    bounce_reason = models.TextField(blank=True)
    suppressed = models.BooleanField(
        default=False, help_text=_("Hard bounce: no mail is sent to this address until cleared.")
    )

    class Meta:
        verbose_name = _("address status")
        verbose_name_plural = _("address statuses")

    def __str__(self) -> str:
        return self.address


class OutboundMail(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SUPPRESSED = "suppressed", _("Not sent")

    kind = models.CharField(max_length=32)
    dedupe_key = models.CharField(max_length=200, unique=True)
    essential = models.BooleanField(default=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_address = models.CharField(max_length=320)
    language = models.CharField(max_length=8, default="en")
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="outbound_mail"
    )
    subject = models.CharField(max_length=998)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    message_id = models.CharField(max_length=998, db_index=True)
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.TextField(blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    not_before = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # One stored file sent along (an offer's PDF); the file belongs to whoever queued it.
    attachment = models.FileField(max_length=255, blank=True)

    class Meta:
        verbose_name = _("outgoing mail")
        verbose_name_plural = _("outgoing mail")
        indexes = [
            models.Index(fields=["state", "not_before"], name="outbound_due"),
            # The daily cap of automatic answers per address (``outbound._not_sendable``):
            # a day's mail to one address, without reading the whole table per receipt.
            models.Index(Lower("to_address"), "created_at", name="outbound_address_day"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.to_address}"
