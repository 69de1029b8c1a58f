"""Customers' monitoring alerts: who may send them, what was received, what they became.

* ``AlertIntegration``: one sender (an Alertmanager, a Zabbix server, a script) of one
  customer organisation, authenticated by its own bearer token. Only the token's SHA-256
  is stored; the short prefix lets people recognise it in lists.
* ``AlertRoute``: label key = value → environment, for senders not bound to one
  environment (an Alertmanager watching a customer's whole landscape).
* ``AlertPayload``: the received-log, one row per HTTP request (accepted or rejected),
  with the body kept (bounded) so a rejected payload can be inspected and fixed.
* ``AlertIncident``: one row per incident opened from a fingerprint; the current row of a
  fingerprint (``is_current``) is unique per integration, which is what makes two
  identical alerts arriving together open one request.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from aftercare.desk.models import Priority
from aftercare.lifecycle.models import Environment
from aftercare.tenancy.models import Organisation


class Severity(models.TextChoices):
    """The common scale every format is read into, least to most severe."""

    INFO = "info", _("Information")
    WARNING = "warning", _("Warning")
    AVERAGE = "average", _("Average")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


SEVERITY_ORDER = [s.value for s in Severity]


def default_priorities() -> dict[str, int]:
    return {
        Severity.CRITICAL: int(Priority.CRITICAL),
        Severity.HIGH: int(Priority.HIGH),
        Severity.AVERAGE: int(Priority.NORMAL),
        Severity.WARNING: int(Priority.NORMAL),
        Severity.INFO: int(Priority.LOW),
    }


class AlertIntegration(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+", verbose_name=_("organisation")
    )
    environment = models.ForeignKey(
        Environment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("environment"),
        help_text=_("Empty: the alert names its environment (a field, a label or a route)."),
    )
    name = models.CharField(_("name"), max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(_("token"), max_length=16, editable=False)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reporter"),
        help_text=_("The customer contact incidents are filed for (default: a coordinator)."),
    )
    severity_priorities = models.JSONField(
        _("priority per severity"), default=default_priorities, blank=True
    )
    downtime_from_severity = models.CharField(
        _("downtime from severity"),
        max_length=10,
        choices=Severity.choices,
        default=Severity.CRITICAL,
    )
    resolve_moves_to_done = models.BooleanField(
        _("a resolved alert moves its request to Done"), default=False
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("alert integration")
        verbose_name_plural = _("alert integrations")
        ordering = ["organisation__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"

    def priority_for(self, severity: str) -> int:
        mapping = {**default_priorities(), **(self.severity_priorities or {})}
        try:
            value = int(mapping.get(severity, Priority.NORMAL))
        except (TypeError, ValueError):
            value = int(Priority.NORMAL)
        return value if value in Priority.values else int(Priority.NORMAL)


class AlertRoute(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(
        AlertIntegration, on_delete=models.CASCADE, related_name="routes"
    )
    label_key = models.CharField(_("label"), max_length=100)
    label_value = models.CharField(_("value"), max_length=200)
    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="+", verbose_name=_("environment")
    )

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("alert route")
        verbose_name_plural = _("alert routes")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "label_key", "label_value"], name="unique_alert_route"
            )
        ]

    def __str__(self) -> str:
        return f"{self.label_key}={self.label_value} → {self.environment_id}"

    def save(self, *args, **kwargs) -> None:
        # A route never leads out of the integration's organisation.
        if self.environment.organisation_id != self.integration.organisation_id:
            raise ValueError("An alert route must stay within its integration's organisation.")
        self.organisation_id = self.integration.organisation_id
        super().save(*args, **kwargs)


class AlertPayload(models.Model):
    """One received request. Not scoped: rows of a deleted integration keep their
    organisation; ``services.visible_payloads`` filters by the reader's reach."""

    class Format(models.TextChoices):
        ALERTMANAGER = "alertmanager", _("Prometheus Alertmanager")
        ZABBIX = "zabbix", _("Zabbix")
        GENERIC = "generic", _("Generic JSON")

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        PARTIAL = "partial", _("Partly accepted")
        REJECTED = "rejected", _("Rejected")

    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    integration = models.ForeignKey(
        AlertIntegration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    format = models.CharField(_("format"), max_length=16, choices=Format.choices)
    body = models.TextField(_("body"), blank=True)
    truncated = models.BooleanField(default=False)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(default=200)
    alerts = models.PositiveIntegerField(_("alerts"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("received alert payload")
        verbose_name_plural = _("received alert payloads")
        indexes = [
            models.Index(fields=["organisation", "-received_at"], name="alertpayload_org"),
            models.Index(fields=["-received_at", "-id"], name="alertpayload_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.format} {self.received_at:%Y-%m-%d %H:%M} {self.outcome}"


class AlertIncident(models.Model):
    class State(models.TextChoices):
        FIRING = "firing", _("Firing")
        RESOLVED = "resolved", _("Resolved")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(
        AlertIntegration, on_delete=models.CASCADE, related_name="incidents"
    )
    fingerprint = models.CharField(_("fingerprint"), max_length=200)
    environment = models.ForeignKey(
        Environment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("environment"),
    )
    # Empty while every firing so far fell into a maintenance window (silenced).
    ticket = models.ForeignKey(
        "desk.Ticket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alert_incidents",
        verbose_name=_("request"),
    )
    # The incident this one follows up (the same fingerprint after its request closed).
    follows = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_current = models.BooleanField(default=True, editable=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    summary = models.CharField(_("summary"), max_length=250)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    count = models.PositiveIntegerField(_("firings"), default=1)
    silenced = models.PositiveIntegerField(_("silenced firings"), default=0)
    last_note_at = models.DateTimeField(null=True, blank=True, editable=False)
    downtime_open = models.BooleanField(default=False, editable=False)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("alert incident")
        verbose_name_plural = _("alert incidents")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "fingerprint"],
                condition=models.Q(is_current=True),
                name="unique_current_alert_incident",
            )
        ]
        indexes = [
            models.Index(fields=["organisation", "-last_seen"], name="alertincident_org"),
            models.Index(fields=["-last_seen", "-id"], name="alertincident_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.fingerprint} ({self.get_state_display()})"
