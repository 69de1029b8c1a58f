"""Migrations of on-premises customers to the SaaS platform: lead → offer → run → statement.

A ``Migration`` starts as a lead from the public quote form (maybe not yet linked to an
organisation) and carries its state; every change goes through ``saas.services``, which
writes a ``MigrationEvent`` in the same transaction. All models use a django-scopes
manager on the organisation: a lead without an organisation is visible only to agents
who serve every customer (scope ``None``), like mail held in triage.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from aftercare.tenancy.models import Organisation

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class State(models.TextChoices):
    LEAD = "lead", _("Lead")
    OFFER_SENT = "offer_sent", _("Offer sent")
    CONFIRMED = "confirmed", _("Confirmed")
    DECLINED = "declined", _("Declined")
    SCHEDULED = "scheduled", _("Scheduled")
    IN_PROGRESS = "in_progress", _("In progress")
    HANDED_OVER = "handed_over", _("Handed over")
    ACCEPTED = "accepted", _("Accepted")
    INVOICED = "invoiced", _("Invoiced")


class Step(models.TextChoices):
    """The migration run, in this order."""

    READ_ONLY = "read_only", _("Old system set read-only")
    FREEZE = "freeze", _("Interfaces frozen")
    DATA = "data", _("Data migrated")
    INTERFACES = "interfaces", _("Interfaces converted")
    TESTS = "tests", _("Tests done")
    HANDOVER = "handover", _("Site handed over")


STEP_ORDER = list(Step.values)

# The default run: from late afternoon to the next day at the same hour, in the
# organisation's time zone; one day more with the document archive.
DEFAULT_START = time(17, 0)
RUN_DAYS = 1
ARCHIVE_EXTRA_DAYS = 1


def default_window(day: date, zone, *, document_archive: bool = False) -> tuple[datetime, datetime]:
    """Start and end of a migration run that starts on ``day`` (local to ``zone``)."""
    start = datetime.combine(day, DEFAULT_START, tzinfo=zone)
    days = RUN_DAYS + (ARCHIVE_EXTRA_DAYS if document_archive else 0)
    end = datetime.combine(day + timedelta(days=days), DEFAULT_START, tzinfo=zone)
    return start, end


class Migration(models.Model):
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="saas_migrations",
        verbose_name=_("organisation"),
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.LEAD)
    # The quote request, as the visitor typed it.
    company = models.CharField(_("company"), max_length=200)
    contact_name = models.CharField(_("contact name"), max_length=200)
    email = models.EmailField(_("e-mail"), max_length=254)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    product = models.CharField(_("current product and version"), max_length=200)
    users = models.PositiveIntegerField(_("number of users"))
    desired_date = models.DateField(_("desired date"), null=True, blank=True)
    message = models.TextField(_("message"), blank=True)
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    created_at = models.DateTimeField(_("received"), default=timezone.now)
    # Scheduling (staff).
    scheduled_for = models.DateField(_("migration date"), null=True, blank=True)
    target_site = models.CharField(_("target SaaS site"), max_length=200, blank=True)
    training_needs = models.TextField(_("extra training needs"), blank=True)
    weekend = models.BooleanField(_("weekend migration"), default=False)
    document_archive = models.BooleanField(
        _("with the document archive"),
        default=False,
        help_text=_("The document archive moves too: the run takes one day more."),
    )
    starts_at = models.DateTimeField(_("run starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("run ends"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("SaaS migration")
        verbose_name_plural = _("SaaS migrations")
        ordering = ["-created_at", "-pk"]
        permissions = [("manage_migration", _("Can manage SaaS migrations"))]
        indexes = [models.Index(fields=["state", "-created_at"], name="saas_migration_state")]

    def __str__(self) -> str:
        return f"{self.reference} {self.company}"

    @property
    def reference(self) -> str:
        return f"MIG-{self.created_at:%Y}-{self.pk:05d}" if self.pk else "MIG-new"

    @property
    def doc_language(self) -> str:
        """Documents and mail go out in the lead's language, else the organisation's."""
        codes = dict(settings.LANGUAGES)
        for code in (self.language, getattr(self.organisation, "language", "")):
            if code in codes:
                return code
        return settings.LANGUAGE_CODE

    def current_offer(self) -> Offer | None:
        return (
            self.offers.exclude(status__in=[Offer.Status.DRAFT, Offer.Status.SUPERSEDED])
            .order_by("-revision")
            .first()
        )


class LineKind(models.TextChoices):
    SERVICE = "service", _("Service")
    LICENCE = "licence", _("Licence-model change")


class LineItem(models.Model):
    """A priced line: offers' items and the extras added to the final statement."""

    kind = models.CharField(
        _("kind"), max_length=12, choices=LineKind.choices, default=LineKind.SERVICE
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    description = models.CharField(_("description"), max_length=500)
    quantity = models.DecimalField(
        _("quantity"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )
    unit = models.CharField(_("unit"), max_length=32, blank=True)
    unit_price = models.DecimalField(
        _("unit price"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)]
    )
    vat_rate = models.DecimalField(
        _("VAT rate (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("19.00"),
        validators=[MinValueValidator(0)],
    )

    class Meta:
        abstract = True
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.description

    @property
    def net(self) -> Decimal:
        return money(self.quantity * self.unit_price)

    @property
    def vat(self) -> Decimal:
        return money(self.net * self.vat_rate / Decimal(100))


def totals(items) -> dict:
    """Net, VAT per rate and gross of ``items``, each rounded per line then summed."""
    net = Decimal("0.00")
    by_rate: dict[Decimal, Decimal] = {}
    for item in items:
        net += item.net
        by_rate[item.vat_rate] = by_rate.get(item.vat_rate, Decimal("0.00")) + item.vat
    vat = sum(by_rate.values(), Decimal("0.00"))
    return {
        "net": net,
        "vat_by_rate": sorted(by_rate.items()),
        "vat": vat,
        "gross": net + vat,
    }


def _pdf_path(instance, filename: str) -> str:
    return f"saas/{instance.migration_id}/{filename}"


class Offer(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENT = "sent", _("Sent")
        SUPERSEDED = "superseded", _("Superseded")
        CONFIRMED = "confirmed", _("Confirmed")
        DECLINED = "declined", _("Declined")

    class Via(models.TextChoices):
        PORTAL = "portal", _("portal")
        LINK = "link", _("e-mail link")
        EMAIL = "email", _("e-mail reply")

    migration = models.ForeignKey(
        Migration, on_delete=models.CASCADE, related_name="offers", verbose_name=_("migration")
    )
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revision = models.PositiveSmallIntegerField(_("revision"))
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.DRAFT
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    valid_days = models.PositiveSmallIntegerField(_("valid for (days)"), default=30)
    notes = models.TextField(_("notes"), blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    pdf = models.FileField(_("PDF"), upload_to=_pdf_path, blank=True, max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_by_name = models.CharField(max_length=254, blank=True)
    decided_via = models.CharField(max_length=8, choices=Via.choices, blank=True)
    decision_note = models.TextField(blank=True)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ["migration", "-revision"]
        constraints = [
            models.UniqueConstraint(fields=["migration", "revision"], name="saas_offer_revision")
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"{self.migration.reference}/{self.revision}"

    def totals(self) -> dict:
        return totals(self.items.all())


class OfferItem(LineItem):
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="items")
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = ScopedManager(organisation="organisation")

    class Meta(LineItem.Meta):
        verbose_name = _("offer item")
        verbose_name_plural = _("offer items")


class OfferLink(models.Model):
    """A one-time capability link in the offer mail (the signed token holds the nonce)."""

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="links")
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    email = models.EmailField(max_length=254)
    nonce_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("offer link")
        verbose_name_plural = _("offer links")

    def __str__(self) -> str:
        return f"{self.offer_id} → {self.email}"


class Extra(LineItem):
    """Work beyond the offer, added by staff for the final statement."""

    migration = models.ForeignKey(Migration, on_delete=models.CASCADE, related_name="extras")
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta(LineItem.Meta):
        verbose_name = _("extra")
        verbose_name_plural = _("extras")


class ChecklistTick(models.Model):
    migration = models.ForeignKey(Migration, on_delete=models.CASCADE, related_name="ticks")
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    step = models.CharField(_("step"), max_length=16, choices=Step.choices)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(_("note"), max_length=500, blank=True)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("checklist step")
        verbose_name_plural = _("checklist steps")
        constraints = [models.UniqueConstraint(fields=["migration", "step"], name="saas_tick_once")]

    def __str__(self) -> str:
        return self.get_step_display()


class Acceptance(models.Model):
    """The customer's responsible person formally accepts the migrated site."""

    migration = models.OneToOneField(Migration, on_delete=models.CASCADE, related_name="acceptance")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(_("name"), max_length=200)
    accepted_on = models.DateField(_("date"))
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("acceptance")
        verbose_name_plural = _("acceptances")

    def __str__(self) -> str:
        return f"{self.name} {self.accepted_on}"


class Statement(models.Model):
    """The final statement of the work: the confirmed offer's items plus the extras."""

    migration = models.OneToOneField(Migration, on_delete=models.CASCADE, related_name="statement")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    pdf = models.FileField(_("PDF"), upload_to=_pdf_path, max_length=255)
    # The invoice number: sequential per year, e.g. 2026-0007.
    year = models.PositiveSmallIntegerField(_("year"))
    sequence = models.PositiveIntegerField(_("sequence"))
    due_on = models.DateField(_("due on"))
    currency = models.CharField(max_length=3)
    net = models.DecimalField(max_digits=16, decimal_places=2)
    vat = models.DecimalField(max_digits=16, decimal_places=2)
    gross = models.DecimalField(max_digits=16, decimal_places=2)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("final statement")
        verbose_name_plural = _("final statements")
        constraints = [
            models.UniqueConstraint(fields=["year", "sequence"], name="saas_statement_number")
        ]

    def __str__(self) -> str:
        return f"{self.number}: {self.gross} {self.currency}"

    @property
    def number(self) -> str:
        return f"{self.year}-{self.sequence:04d}"


class StatementCounter(models.Model):
    """The last invoice number of one year; its row is locked while a number is taken."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("statement counter")
        verbose_name_plural = _("statement counters")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class MigrationEvent(models.Model):
    """The audit trail of one migration: who changed what, when."""

    migration = models.ForeignKey(Migration, on_delete=models.CASCADE, related_name="events")
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)
    old = models.CharField(max_length=32, blank=True)
    new = models.CharField(max_length=32, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("migration event")
        verbose_name_plural = _("migration events")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.action
