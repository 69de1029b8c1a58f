"""Downtime of customer environments, the raw material of monthly availability.

A ``Downtime`` is one interval in which an environment was (or still is) unavailable.
Alerts open and close them by fingerprint (``services.open_downtime`` /
``close_downtime``); staff record, edit and close them by hand. Availability is computed
from these rows on demand (``reports``), never stored, so a corrected record corrects
every past report.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from aftercare.tenancy.models import Organisation


class Downtime(models.Model):
    class Source(models.TextChoices):
        ALERT = "alert", _("Monitoring alert")
        MANUAL = "manual", _("Recorded by hand")

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+", verbose_name=_("organisation")
    )
    environment = models.ForeignKey(
        "lifecycle.Environment",
        on_delete=models.CASCADE,
        related_name="downtimes",
        verbose_name=_("environment"),
    )
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(
        _("ended"), null=True, blank=True, help_text=_("Empty while the downtime goes on.")
    )
    cause = models.TextField(_("cause"), blank=True)
    planned = models.BooleanField(
        _("planned"),
        default=False,
        help_text=_("Planned maintenance does not count against availability."),
    )
    source = models.CharField(
        _("source"), max_length=8, choices=Source.choices, default=Source.MANUAL
    )
    fingerprint = models.CharField(
        _("alert fingerprint"),
        max_length=200,
        blank=True,
        help_text=_("The monitoring alert's identity; empty for downtimes recorded by hand."),
    )
    incidents = models.ManyToManyField(
        "desk.Ticket", blank=True, related_name="downtimes", verbose_name=_("incidents")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("downtime")
        verbose_name_plural = _("downtimes")
        ordering = ["-started_at", "-pk"]
        indexes = [
            models.Index(fields=["environment", "started_at"], name="downtime_env_start"),
            models.Index(fields=["environment", "fingerprint"], name="downtime_env_fp"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True)
                | models.Q(ended_at__gt=models.F("started_at")),
                name="downtime_ends_after_start",
            ),
            # One open downtime per alert fingerprint and environment (the alert's
            # repeats find it instead of opening another).
            models.UniqueConstraint(
                fields=["environment", "fingerprint"],
                condition=models.Q(ended_at__isnull=True) & ~models.Q(fingerprint=""),
                name="unique_open_downtime_fingerprint",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.environment_id} {self.started_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs) -> None:
        # The organisation always follows the environment, so a scope is never crossed.
        self.organisation_id = self.environment.organisation_id
        super().save(*args, **kwargs)

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def end_or(self, now: datetime) -> datetime:
        """Where the interval ends for arithmetic: its end, or ``now`` while it goes on."""
        return self.ended_at if self.ended_at is not None else max(now, self.started_at)

    def duration(self, now: datetime | None = None):
        return self.end_or(now or timezone.now()) - self.started_at
