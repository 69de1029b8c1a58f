"""Webhook subscriptions and the delivery outbox.

A ``Subscription`` is an administrator's promise to a receiver: these events, for one
customer organisation (or for all of them), posted to this URL and signed with this
secret. A ``Delivery`` is one event for one subscription; it is written in the same
transaction as the change that caused it (see ``events``), keyed so a repeated change
never queues twice, and posted by the worker with retries (see ``delivery``).

Neither model is tenant-scoped: only administrators manage them (in the admin), and the
receiver chooses subscriptions for a change's organisation explicitly, so a global
subscription (no organisation) is not hidden by an organisation scope.
"""

from __future__ import annotations

import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftercare.desk.models import Ticket
from aftercare.tenancy.models import Organisation


class EventName(models.TextChoices):
    TICKET_CREATED = "ticket.created", _("Request created")
    TICKET_UPDATED = "ticket.updated", _("Request updated (assignee, level, priority, …)")
    TICKET_STATUS_CHANGED = "ticket.status_changed", _("Request status changed")
    COMMENT_CREATED = "comment.created", _("Public reply added")
    SLA_WARNING = "sla.warning", _("SLA deadline approaching")
    SLA_BREACHED = "sla.breached", _("SLA target missed")


PING = "ping"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class Subscription(models.Model):
    name = models.CharField(_("name"), max_length=100)
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("organisation"),
        help_text=_("Only this organisation's events. Empty: every organisation's events."),
    )
    target_url = models.CharField(
        _("target URL"),
        max_length=500,
        help_text=_("An https:// address on the public internet."),
    )
    secret = models.CharField(
        _("signing secret"),
        max_length=100,
        default=new_secret,
        help_text=_("The receiver checks X-Aftercare-Signature with it (see docs/webhooks.md)."),
    )
    events = models.JSONField(_("events"), default=list)
    active = models.BooleanField(_("active"), default=True)
    failure_count = models.PositiveIntegerField(
        _("consecutive failed deliveries"), default=0, editable=False
    )
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True, editable=False)
    disabled_reason = models.CharField(
        _("reason disabled"), max_length=500, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["active", "organisation"], name="webhook_sub_active")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from aftercare.webhooks import targets

        errors = {}
        chosen = list(self.events or [])
        unknown = [e for e in chosen if e not in EventName.values]
        if unknown:
            errors["events"] = _("Unknown events: %(names)s") % {"names": ", ".join(unknown)}
        elif not chosen:
            errors["events"] = _("Choose at least one event.")
        try:
            targets.check_url(self.target_url)
        except (targets.UnsafeTarget, targets.Unresolvable) as exc:
            errors["target_url"] = str(exc)
        if errors:
            raise ValidationError(errors)

    def wants(self, event: str) -> bool:
        return event == PING or event in (self.events or [])

    @property
    def is_global(self) -> bool:
        return self.organisation_id is None


class Delivery(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    uuid = models.UUIDField(_("delivery id"), default=uuid.uuid4, unique=True, editable=False)
    subscription = models.ForeignKey(
        Subscription,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("subscription"),
    )
    event = models.CharField(
        _("event"), max_length=32, choices=[*EventName.choices, (PING, _("Test ping"))]
    )
    # What makes queueing exactly-once: the source event and the subscription.
    dedupe_key = models.CharField(max_length=200, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("organisation"),
    )
    ticket = models.ForeignKey(
        Ticket,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("request"),
    )
    # The exact JSON body sent (and signed), so every attempt sends the same bytes.
    payload = models.TextField(_("payload"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last status"), null=True, blank=True)
    response_excerpt = models.TextField(_("response (first 2 kB)"), blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_sub"),
            models.Index(fields=["created_at"], name="webhook_delivery_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription_id} ({self.state})"
