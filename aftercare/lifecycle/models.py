"""Environments of customer systems, product releases and the deployments between them.

``Product`` and ``Release`` are the vendor's catalogue (no organisation); everything else
belongs to one customer organisation and uses a django-scopes manager on that dimension,
like the tenancy models. Rules that span several rows (test before production, customer
approval, maintenance windows) live in ``services.deploy``; the models hold state and the
pure helpers the rules use (version order, window membership).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from aftercare.tenancy.models import Contract, Organisation, System


def version_key(version: str, service_pack: str = "") -> tuple:
    """A sort key for "11.3", "11.3 SP1", "11.10": numbers compare as numbers.

    Text parts compare as text after all numbers, so an odd label still sorts stably.
    A service pack sorts after its base version (11.3 < 11.3 SP1 < 11.3 SP2 < 11.4).
    """

    def parts(text: str) -> tuple:
        return tuple(
            (0, int(p), "") if p.isdigit() else (1, 0, p.lower())
            for p in re.findall(r"\d+|[A-Za-z]+", text or "")
        )

    sp = re.findall(r"\d+", service_pack or "")
    return (parts(version), int(sp[0]) if sp else (1 if service_pack else 0))


class Product(models.Model):
    """A product the vendor releases; ``name`` matches ``tenancy.System.product``."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Release(models.Model):
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="releases", verbose_name=_("product")
    )
    version = models.CharField(_("version"), max_length=64)
    service_pack = models.CharField(
        _("service pack"), max_length=32, blank=True, help_text=_("For example: SP1.")
    )
    released_on = models.DateField(_("release date"))
    notes = models.TextField(_("release notes"), blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("release")
        verbose_name_plural = _("releases")
        ordering = ["product__name", "-released_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "version", "service_pack"], name="unique_release"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product} {self.label}"

    @property
    def label(self) -> str:
        return f"{self.version} {self.service_pack}".strip()

    @property
    def key(self) -> tuple:
        return version_key(self.version, self.service_pack)


class ReleaseNote(models.Model):
    """The release notes in one language; ``Release.notes`` is the text of record.

    Customers read the notes in their own language and fall back to ``Release.notes``.
    """

    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, related_name="translations", verbose_name=_("release")
    )
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    text = models.TextField(_("release notes"))

    class Meta:
        verbose_name = _("release notes in a language")
        verbose_name_plural = _("release notes in other languages")
        ordering = ["release", "language"]
        constraints = [
            models.UniqueConstraint(fields=["release", "language"], name="unique_release_note")
        ]

    def __str__(self) -> str:
        return f"{self.release} [{self.language}]"


def notes_in(release: Release, language: str | None) -> str:
    """The release notes for a reader of ``language`` (falls back to the text of record)."""
    if language:
        for note in release.translations.all():
            if note.language == language and note.text.strip():
                return note.text
    return release.notes


class DeliveredRequest(models.Model):
    """A request (change, fixed incident or problem) that a release delivers.

    When the release (or a later one of the same product) succeeds on the customer's
    production environment, the request moves to Released (``services.deploy``).
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, related_name="delivered", verbose_name=_("release")
    )
    ticket = models.ForeignKey(
        "desk.Ticket",
        on_delete=models.CASCADE,
        related_name="delivered_by",
        verbose_name=_("request"),
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("request delivered by a release")
        verbose_name_plural = _("requests delivered by releases")
        ordering = ["release", "ticket"]
        constraints = [
            models.UniqueConstraint(fields=["release", "ticket"], name="unique_delivered_request")
        ]

    def __str__(self) -> str:
        return f"{self.release_id} ⇒ {self.ticket_id}"

    def save(self, *args, **kwargs) -> None:
        self.organisation_id = self.ticket.organisation_id
        super().save(*args, **kwargs)


class ReleaseApproval(models.Model):
    """The customer's approval of one release going to production (bound, not reusable)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    approval = models.OneToOneField(
        "desk.Approval", on_delete=models.CASCADE, related_name="release_binding"
    )
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="approvals")
    environment = models.ForeignKey(
        "Environment", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("approval of a release")
        verbose_name_plural = _("approvals of releases")

    def __str__(self) -> str:
        return f"{self.approval_id} → {self.release_id}"


class Party(models.TextChoices):
    VENDOR = "vendor", _("Vendor")
    PARTNER = "partner", _("Partner")
    CUSTOMER = "customer", _("Customer")
    PROVIDER = "provider", _("Infrastructure provider")


class Environment(models.Model):
    class Kind(models.TextChoices):
        PRODUCTION = "production", _("Production")
        BACKUP = "backup", _("Backup / failover")
        TEST = "test", _("Development / test")
        TRAINING = "training", _("Training")

    # Where a release must have succeeded before it may go to production.
    PROVING_KINDS = (Kind.TEST, Kind.TRAINING)

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="environments",
        verbose_name=_("organisation"),
    )
    system = models.ForeignKey(
        System,
        on_delete=models.CASCADE,
        related_name="environments",
        verbose_name=_("system"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    url = models.URLField(_("URL"), max_length=500, blank=True)
    hosting = models.CharField(
        _("hosted by"), max_length=16, choices=Party.choices, default=Party.CUSTOMER
    )
    hosting_details = models.CharField(
        _("hosting details"),
        max_length=300,
        blank=True,
        help_text=_("For example: the provider's name, data centre, server names."),
    )
    version = models.CharField(
        _("current version"),
        max_length=100,
        blank=True,
        help_text=_("Kept by recorded deployments; set by hand only for the starting state."),
    )
    current_release = models.ForeignKey(
        Release,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("current release"),
    )
    notes = models.TextField(_("notes"), blank=True)
    needs_approval = models.BooleanField(
        _("changes need the customer's approval"),
        default=False,
        help_text=_(
            "Every deployment to this production environment needs a coordinator's "
            "approval of the release (also set per contract)."
        ),
    )

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("environment")
        verbose_name_plural = _("environments")
        ordering = ["system__name", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["system", "name"], name="unique_environment_name")
        ]

    def __str__(self) -> str:
        return f"{self.system.name}: {self.name}"

    def save(self, *args, **kwargs) -> None:
        # The organisation always follows the system, so a scope can never be crossed.
        self.organisation_id = self.system.organisation_id
        super().save(*args, **kwargs)

    @property
    def is_production(self) -> bool:
        return self.kind == self.Kind.PRODUCTION

    @property
    def current_key(self) -> tuple | None:
        # A version typed in by hand (admin) wins over a release it no longer matches.
        if self.current_release_id is not None and self.current_release.label == self.version:
            return self.current_release.key
        if self.version:
            version, _sep, sp = self.version.partition(" ")
            return version_key(version, sp)
        return None


class Responsibility(models.Model):
    """One cell of a contract's responsibility matrix: who does what."""

    class Area(models.TextChoices):
        # The areas of the post-implementation support document, in its order.
        PRE_SALES = "pre_sales", _("Pre-sales")
        IMPLEMENTATION = "implementation", _("Implementation")
        CUSTOMISATION = "customisation", _("Customisation")
        ROADMAP = "roadmap", _("Product roadmap")
        SUPPORT_ACCESS = "support_access", _("Access to support and documentation")
        FIRST_LINE = "first_line", _("First-line support")
        SECOND_LINE = "second_line", _("Second-line support")
        PRODUCT_SUPPORT = "product_support", _("General product support")
        RESPONSE_PHONE = "response_phone", _("Response times and phone support")
        SOURCE_CODE = "source_code", _("Source-code access")
        UPGRADES = "upgrades", _("Upgrades and service packs")
        INFRASTRUCTURE = "infrastructure", _("Infrastructure")
        HARDWARE = "hardware", _("Hardware")
        DATABASE = "database", _("Database")
        TRAINING = "training", _("Training")
        MONITORING = "monitoring", _("Monitoring")

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+", verbose_name=_("organisation")
    )
    contract = models.ForeignKey(
        Contract,
        on_delete=models.CASCADE,
        related_name="responsibilities",
        verbose_name=_("contract"),
    )
    area = models.CharField(_("area"), max_length=20, choices=Area.choices)
    party = models.CharField(_("responsible"), max_length=16, choices=Party.choices)
    party_name = models.CharField(
        _("name of the party"),
        max_length=200,
        blank=True,
        help_text=_("For example the partner's or provider's company name."),
    )
    scope = models.CharField(
        _("scope"),
        max_length=300,
        blank=True,
        help_text=_("What this party covers in the area, when several share it."),
    )
    response_hours = models.PositiveSmallIntegerField(
        _("response time (business hours)"), null=True, blank=True
    )
    notes = models.CharField(_("notes"), max_length=500, blank=True)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("responsibility")
        verbose_name_plural = _("responsibilities")
        ordering = ["contract", "area", "pk"]
        constraints = [
            # Several parties may share an area, each once.
            models.UniqueConstraint(
                fields=["contract", "area", "party", "party_name"],
                name="unique_responsibility_party",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract}: {self.get_area_display()} → {self.get_party_display()}"

    def save(self, *args, **kwargs) -> None:
        self.organisation_id = self.contract.organisation_id
        super().save(*args, **kwargs)


class MaintenanceWindow(models.Model):
    """When deployments may happen, in the organisation's time zone.

    Weekly (``weekday`` set) or on one date (``on_date`` set). ``ends_at`` at or before
    ``starts_at`` means the window runs past midnight into the next day. A window naming
    an environment applies to that environment; one naming only a contract applies to the
    production environments of that contract's systems.
    """

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+", verbose_name=_("organisation")
    )
    contract = models.ForeignKey(
        Contract,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="maintenance_windows",
        verbose_name=_("contract"),
    )
    environment = models.ForeignKey(
        Environment,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="maintenance_windows",
        verbose_name=_("environment"),
    )
    weekday = models.PositiveSmallIntegerField(
        _("weekday"), choices=Weekday.choices, null=True, blank=True
    )
    on_date = models.DateField(_("date"), null=True, blank=True)
    starts_at = models.TimeField(_("from"))
    ends_at = models.TimeField(_("until"))
    notes = models.CharField(_("notes"), max_length=300, blank=True)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("maintenance window")
        verbose_name_plural = _("maintenance windows")
        ordering = ["on_date", "weekday", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(weekday__isnull=True) & models.Q(on_date__isnull=False))
                | (models.Q(weekday__isnull=False) & models.Q(on_date__isnull=True)),
                name="window_weekly_or_dated",
            ),
            models.CheckConstraint(
                condition=models.Q(contract__isnull=False) | models.Q(environment__isnull=False),
                name="window_has_target",
            ),
        ]

    def __str__(self) -> str:
        when = self.on_date.isoformat() if self.on_date else self.get_weekday_display()
        return f"{when} {self.starts_at:%H:%M}–{self.ends_at:%H:%M}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if (self.weekday is None) == (self.on_date is None):
            raise ValidationError(_("Give either a weekday or a date, not both."))
        if self.contract_id is None and self.environment_id is None:
            raise ValidationError(_("Name the contract or the environment it applies to."))
        if (
            self.contract_id is not None
            and self.environment_id is not None
            and self.contract.organisation_id != self.environment.organisation_id
        ):
            raise ValidationError(
                _("The contract and the environment belong to different customers.")
            )

    def save(self, *args, **kwargs) -> None:
        owner = self.environment if self.environment_id else self.contract
        self.organisation_id = owner.organisation_id
        super().save(*args, **kwargs)

    def _opens_on(self, day: date) -> bool:
        if self.on_date is not None:
            return day == self.on_date
        return day.weekday() == self.weekday

    def contains(self, local: datetime) -> bool:
        """Whether a wall-clock time (already in the organisation's zone) is inside."""
        overnight = self.ends_at <= self.starts_at
        now = local.time().replace(tzinfo=None)
        today = local.date()
        if self._opens_on(today) and now >= self.starts_at and (overnight or now < self.ends_at):
            return True
        # The tail of an overnight window opened the day before.
        return overnight and self._opens_on(today - timedelta(days=1)) and now < self.ends_at


class Deployment(models.Model):
    class Result(models.TextChoices):
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        ROLLED_BACK = "rolled_back", _("Rolled back")

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+", verbose_name=_("organisation")
    )
    environment = models.ForeignKey(
        Environment,
        on_delete=models.CASCADE,
        related_name="deployments",
        verbose_name=_("environment"),
    )
    release = models.ForeignKey(
        Release, on_delete=models.PROTECT, related_name="deployments", verbose_name=_("release")
    )
    deployed_at = models.DateTimeField(_("deployed at"))
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("deployed by"),
    )
    result = models.CharField(_("result"), max_length=16, choices=Result.choices)
    previous_version = models.CharField(_("version before"), max_length=100, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    is_emergency = models.BooleanField(_("emergency change"), default=False)
    emergency_reason = models.TextField(_("reason for the emergency"), blank=True)
    emergency_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("emergency approved by"),
    )
    emergency_approved_at = models.DateTimeField(_("emergency approved at"), null=True, blank=True)
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("deployment")
        verbose_name_plural = _("deployments")
        ordering = ["-deployed_at", "-pk"]
        permissions = [
            ("approve_emergency_deployment", "Can approve an emergency deployment"),
        ]
        indexes = [
            models.Index(fields=["environment", "-deployed_at"], name="deployment_env"),
            models.Index(fields=["release", "result"], name="deployment_release"),
        ]

    def __str__(self) -> str:
        return f"{self.release} → {self.environment_id} ({self.result})"


class ChangeLink(models.Model):
    """A change request (a desk ticket of category change) delivered by a deployment."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="change_links"
    )
    ticket = models.ForeignKey(
        "desk.Ticket", on_delete=models.CASCADE, related_name="deployment_links"
    )
    approval = models.ForeignKey(
        "desk.Approval", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("change request of a deployment")
        verbose_name_plural = _("change requests of deployments")
        constraints = [
            models.UniqueConstraint(fields=["deployment", "ticket"], name="unique_change_link")
        ]

    def __str__(self) -> str:
        return f"{self.deployment_id} ↔ {self.ticket_id}"


class Rollout(models.Model):
    """One release planned for many customer environments (the regulation's mass update).

    The vendor's plan (no organisation of its own); each target belongs to one customer.
    Results are recorded deployments (``services.deploy``), so every rule still holds.
    """

    release = models.ForeignKey(
        Release, on_delete=models.PROTECT, related_name="rollouts", verbose_name=_("release")
    )
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("rollout")
        verbose_name_plural = _("rollouts")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.release} ({self.created_at:%Y-%m-%d})"


class PlannedUpgrade(models.Model):
    """A customer environment's planned upgrade to a rollout's release: when, and what
    came of it (the recorded deployment, or a cancellation with its reason)."""

    class State(models.TextChoices):
        PLANNED = "planned", _("Planned")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        ROLLED_BACK = "rolled_back", _("Rolled back")
        CANCELLED = "cancelled", _("Cancelled")

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="targets")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey(
        Environment,
        on_delete=models.CASCADE,
        related_name="planned_upgrades",
        verbose_name=_("environment"),
    )
    planned_at = models.DateTimeField(_("planned for"))
    state = models.CharField(max_length=12, choices=State.choices, default=State.PLANNED)
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancel_reason = models.CharField(_("reason"), max_length=300, blank=True)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("planned upgrade")
        verbose_name_plural = _("planned upgrades")
        ordering = ["planned_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["rollout", "environment"], name="unique_rollout_environment"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rollout_id}: {self.environment_id} @ {self.planned_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs) -> None:
        self.organisation_id = self.environment.organisation_id
        super().save(*args, **kwargs)
