"""Customer organisations (the tenants) and what belongs to them.

Every model here except ``AgentRestriction`` uses a django-scopes manager on the
``organisation`` dimension: a query made while no scope is active raises instead of
returning another customer's rows.
"""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from aftercare.accounts.models import validate_time_zone
from aftercare.accounts.roles import Role


def validate_country(value: str) -> None:
    import holidays

    if value.upper() not in holidays.list_supported_countries():
        raise ValidationError(
            _("%(value)s is not a supported country code."), params={"value": value}
        )


class Organisation(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    code = models.SlugField(_("short code"), max_length=32, unique=True)
    country = models.CharField(
        _("country"),
        max_length=2,
        default="RO",
        validators=[validate_country],
        help_text=_("ISO 3166 code; its public holidays are off in the business calendar."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Bucharest", validators=[validate_time_zone]
    )
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    mail_domains = models.CharField(
        _("mail domains"),
        max_length=500,
        blank=True,
        help_text=_("Comma-separated domains whose senders belong to this organisation."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = ScopedManager(organisation="pk")

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def domain_list(self) -> list[str]:
        return [d.strip().lower() for d in self.mail_domains.split(",") if d.strip()]


class Membership(models.Model):
    """A person's place in a customer organisation; one person may belong to several."""

    class CustomerRole(models.TextChoices):
        CUSTOMER = Role.CUSTOMER.value, Role.CUSTOMER.label
        COORDINATOR = Role.COORDINATOR.value, Role.COORDINATOR.label

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("organisation"),
    )
    role = models.CharField(
        _("role"), max_length=20, choices=CustomerRole.choices, default=CustomerRole.CUSTOMER
    )

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="unique_membership")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation} ({self.get_role_display()})"


class AgentRestriction(models.Model):
    """Limits a staff member to some organisations; an agent without rows sees all."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)

    class Meta:
        verbose_name = _("agent restriction")
        verbose_name_plural = _("agent restrictions")
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="unique_restriction")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.organisation}"


class ContactPerson(models.Model):
    """Who to talk to at a customer, and about what (may or may not have a login)."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="contacts",
        verbose_name=_("organisation"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contact_roles",
        verbose_name=_("user account"),
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    role = models.CharField(
        _("role"),
        max_length=200,
        blank=True,
        help_text=_("For example: IT manager, chief accountant, project sponsor."),
    )
    is_primary = models.BooleanField(_("primary contact"), default=False)
    # The regulation: when a contact person leaves, the customer names a replacement
    # within two working days; the desk reminds the coordinators until they do.
    left_on = models.DateField(
        _("left on"),
        null=True,
        blank=True,
        help_text=_("The day this person stopped being a contact; a replacement is then due."),
    )
    replaced_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replaces",
        verbose_name=_("replaced by"),
    )
    replacement_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("contact person")
        verbose_name_plural = _("contact persons")
        ordering = ["-is_primary", "name"]
        indexes = [models.Index(fields=["left_on"], name="contact_left_on")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.replaced_by_id is not None:
            if self.replaced_by_id == self.pk:
                raise ValidationError({"replaced_by": _("A person cannot replace themselves.")})
            if self.replaced_by.organisation_id != self.organisation_id:
                raise ValidationError(
                    {"replaced_by": _("The replacement must be a contact of the same customer.")}
                )

    @property
    def replacement_missing(self) -> bool:
        return self.left_on is not None and self.replaced_by_id is None

    @property
    def replacement_due(self):
        """The last working day (the organisation's calendar) to name a replacement."""
        if self.left_on is None:
            return None
        from aftercare.tenancy.contacts import replacement_due

        return replacement_due(self.organisation, self.left_on)


class Contract(models.Model):
    class SupportHours(models.TextChoices):
        BUSINESS = "business", _("Business hours")
        ALWAYS = "24x7", _("24x7")

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="contracts",
        verbose_name=_("organisation"),
    )
    number = models.CharField(_("number"), max_length=64)
    starts_on = models.DateField(_("start"))
    ends_on = models.DateField(_("end"), null=True, blank=True)
    support_hours = models.CharField(
        _("support hours"),
        max_length=16,
        choices=SupportHours.choices,
        default=SupportHours.BUSINESS,
    )
    sla_plan = models.ForeignKey(
        "sla.SlaPlan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contracts",
        verbose_name=_("SLA plan"),
        help_text=_("Empty: the default SLA plan applies to this contract's requests."),
    )
    production_changes_need_approval = models.BooleanField(
        _("production changes need the customer's approval"),
        default=False,
        help_text=_(
            "Every deployment to a production environment of this contract needs a "
            "coordinator's approval of the release."
        ),
    )
    availability_target = models.DecimalField(
        _("availability target (%)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_(
            "Monthly availability of the production environments in the support hours, "
            "for example 99.50. Empty: no target."
        ),
    )
    notes = models.TextField(_("notes"), blank=True)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["-starts_on"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "number"], name="unique_contract"),
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gte=models.F("starts_on")),
                name="contract_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def is_active_on(self, day) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)


class System(models.Model):
    """A licensed product instance a customer runs (e.g. their ERP)."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="systems",
        verbose_name=_("organisation"),
    )
    name = models.CharField(_("name"), max_length=200)
    product = models.CharField(_("product"), max_length=200)
    version = models.CharField(_("version"), max_length=64, blank=True)
    licence = models.CharField(_("licence number"), max_length=100, blank=True)
    contract = models.ForeignKey(
        Contract,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="systems",
        verbose_name=_("contract"),
    )

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("system")
        verbose_name_plural = _("systems")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="unique_system_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.product} {self.version})".strip()
