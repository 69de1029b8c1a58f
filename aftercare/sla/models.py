"""Service levels: calendars, plans with targets, and the clocks that run per request."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from aftercare.accounts.models import validate_time_zone
from aftercare.desk.models import Category, Priority, Status, Ticket
from aftercare.sla.calendar import parse_hours
from aftercare.tenancy.models import Organisation, validate_country


def validate_hours(value) -> None:
    try:
        parse_hours(value or None)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValidationError(_("Invalid working hours: %(error)s"), params={"error": exc}) from exc


class Calendar(models.Model):
    """Working hours in a time zone, with a country's public holidays off.

    ``hours`` maps a weekday (0 = Monday) to intervals, e.g.
    ``{"0": [["09:00", "13:00"], ["14:00", "18:00"]]}``; empty means Mon-Fri 09:00-18:00.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    country = models.CharField(
        _("country"), max_length=2, blank=True, validators=[validate_country]
    )
    subdivision = models.CharField(_("subdivision"), max_length=10, blank=True)
    hours = models.JSONField(
        _("working hours"), default=dict, blank=True, validators=[validate_hours]
    )
    around_the_clock = models.BooleanField(_("24x7"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        return self.name


class CalendarException(models.Model):
    class Kind(models.TextChoices):
        OFF = "off", _("Day off")
        WORKING = "working", _("Extra working day")

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="exceptions")
    day = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    starts = models.TimeField(_("from"), null=True, blank=True)
    ends = models.TimeField(_("until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("calendar exception")
        verbose_name_plural = _("calendar exceptions")
        constraints = [
            models.UniqueConstraint(fields=["calendar", "day"], name="unique_calendar_day")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.get_kind_display()}"


class SlaPlan(models.Model):
    class FirstResponse(models.TextChoices):
        REPLY = "reply", _("First public reply by the desk")
        ACKNOWLEDGE = "acknowledge", _("Acknowledgement, status change or public reply")

    name = models.CharField(_("name"), max_length=100, unique=True)
    calendar = models.ForeignKey(
        Calendar,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        verbose_name=_("calendar"),
        help_text=_("Empty: the customer's time zone and country, Mon-Fri 09:00-18:00."),
    )
    pause_statuses = models.JSONField(_("statuses that pause the clock"), default=list, blank=True)
    stop_statuses = models.JSONField(_("statuses that stop the clock"), default=list, blank=True)
    first_response = models.CharField(
        _("first response is"),
        max_length=16,
        choices=FirstResponse.choices,
        default=FirstResponse.REPLY,
    )
    warn_percent = models.PositiveSmallIntegerField(
        _("warn at this share of the target (percent)"), default=75
    )
    escalate_to_l2 = models.BooleanField(_("raise to L2 on breach"), default=True)
    is_default = models.BooleanField(
        _("default plan"),
        default=False,
        help_text=_("Applies to requests whose contract names no plan."),
    )

    class Meta:
        verbose_name = _("SLA plan")
        verbose_name_plural = _("SLA plans")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        for name in ("pause_statuses", "stop_statuses"):
            bad = [s for s in getattr(self, name) or [] if s not in Status.values]
            if bad:
                raise ValidationError({name: _("Unknown status: %(s)s") % {"s": ", ".join(bad)}})
        if not 1 <= self.warn_percent <= 99:
            raise ValidationError({"warn_percent": _("Between 1 and 99.")})

    @property
    def pausing(self) -> frozenset[str]:
        return frozenset(self.pause_statuses or [Status.WAITING])

    @property
    def stopping(self) -> frozenset[str]:
        return frozenset(
            self.stop_statuses or [Status.DONE, Status.RELEASED, Status.ARCHIVED, Status.REJECTED]
        )


class SlaTarget(models.Model):
    plan = models.ForeignKey(SlaPlan, on_delete=models.CASCADE, related_name="targets")
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)
    category = models.CharField(
        _("category"),
        max_length=20,
        choices=Category.choices,
        blank=True,
        help_text=_("Empty: any category."),
    )
    first_response_minutes = models.PositiveIntegerField(_("first response (business minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution (business minutes)"))
    around_the_clock = models.BooleanField(
        _("24x7"), default=False, help_text=_("Count every hour, e.g. for critical incidents.")
    )

    class Meta:
        verbose_name = _("SLA target")
        verbose_name_plural = _("SLA targets")
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "priority", "category"], name="unique_sla_target"
            )
        ]

    def __str__(self) -> str:
        return f"{self.plan} {self.get_priority_display()} {self.category or '*'}"


class Metric(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    RESOLUTION = "resolution", _("Resolution")


class SlaClock(models.Model):
    """One metric's clock on one request; deadlines are derived, pauses are kept.

    The deadline is always recomputed from ``started_at``, the target and the recorded
    pauses, never adjusted incrementally, so a priority change cannot lose pause time
    (glpi#15605) and the arithmetic can be audited from the rows.
    """

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        MET = "met", _("Met")
        BREACHED = "breached", _("Breached")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_clocks")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    plan = models.ForeignKey(SlaPlan, null=True, on_delete=models.SET_NULL)
    target_minutes = models.PositiveIntegerField()
    around_the_clock = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    started_at = models.DateTimeField()
    paused_since = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    warn_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    elapsed_minutes = models.FloatField(null=True, blank=True)
    paused_minutes = models.FloatField(default=0)
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    # A deadline agreed with the customer (``SlaExtension``): the clock is due then, not
    # at the computed deadline, and is breached only if it runs past it.
    extended_until = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("SLA clock")
        verbose_name_plural = _("SLA clocks")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "metric"], name="unique_clock_metric")
        ]
        indexes = [
            models.Index(fields=["state", "deadline"], name="clock_due"),
            models.Index(fields=["state", "warn_at"], name="clock_warn"),
            models.Index(fields=["metric", "stopped_at"], name="clock_stopped"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.metric} {self.state}"

    @property
    def is_active(self) -> bool:
        return self.state in (self.State.RUNNING, self.State.PAUSED) and self.stopped_at is None


class SlaExtension(models.Model):
    """A deadline moved by agreement with the customer: who agreed, until when, why.

    Kept as rows of their own (never folded into the clock) so reports can show agreed
    extensions apart from breaches, and the trail says who agreed to what.
    """

    clock = models.ForeignKey(SlaClock, on_delete=models.CASCADE, related_name="extensions")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_extensions")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    agreed_by = models.ForeignKey(
        "tenancy.ContactPerson",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("agreed by"),
    )
    previous_deadline = models.DateTimeField(_("previous deadline"), null=True, blank=True)
    new_deadline = models.DateTimeField(_("new deadline"))
    reason = models.TextField(_("reason"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("SLA extension")
        verbose_name_plural = _("SLA extensions")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["created_at"], name="sla_extension_created")]

    def __str__(self) -> str:
        return f"{self.clock_id} → {self.new_deadline}"


class SlaPause(models.Model):
    clock = models.ForeignKey(SlaClock, on_delete=models.CASCADE, related_name="pauses")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=32)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"{self.started_at} - {self.ended_at or '…'} ({self.reason})"


class Notification(models.Model):
    """Something a staff member should know (SLA warning, breach, escalation).

    One row per (user, clock, kind): the unique constraint is what makes the periodic
    check safe to repeat or to run twice at once.
    """

    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="sla_notifications"
    )
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    clock = models.ForeignKey(SlaClock, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "clock", "kind"], name="unique_sla_notification"
            )
        ]
        indexes = [models.Index(fields=["user", "read_at", "-created_at"], name="notif_user")]

    def __str__(self) -> str:
        return f"{self.kind} {self.ticket_id} → {self.user_id}"
