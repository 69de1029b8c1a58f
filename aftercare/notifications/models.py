"""In-app notifications (the bell), per-user mail choices, and who follows a request."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftercare.desk.models import Ticket
from aftercare.tenancy.models import Organisation


class Notification(models.Model):
    """One thing one person is told in the app. Written in the producer's transaction with
    the same key as its mail, so a repeated run tells nobody twice."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=32)
    key = models.CharField(max_length=200, unique=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The kind's lead line is rendered in the reader's language when shown; these are
    # its parameters (author, status, note, …) and a short excerpt of the text.
    params = models.JSONField(default=dict, blank=True)
    excerpt = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["user", "read_at", "-created_at"], name="inapp_user_unread"),
            models.Index(fields=["user", "-created_at", "-id"], name="inapp_user_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.user_id}"


class MailChoice(models.Model):
    """A person's choice for one kind of notification: also by e-mail, or in the app only.
    No row means the default (by e-mail as well)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mail_choices"
    )
    kind = models.CharField(max_length=32)
    by_mail = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="unique_mail_choice")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.by_mail}"


class Follower(models.Model):
    """Someone who is kept informed about a request besides its reporter and assignee:
    a watcher (staff) or a CC (a contact of the customer's organisation)."""

    class Role(models.TextChoices):
        WATCHER = "watcher", _("Watcher")
        CC = "cc", _("CC")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="followers")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("follower")
        verbose_name_plural = _("followers")
        constraints = [models.UniqueConstraint(fields=["ticket", "user"], name="unique_follower")]

    def __str__(self) -> str:
        return f"{self.user_id} follows {self.ticket_id} ({self.role})"
