from __future__ import annotations

from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


def email_taken(email: str, *, exclude: User | None = None) -> bool:
    """Whether an active account other than ``exclude`` has this address (any case)."""
    found = User.objects.filter(is_active=True, email__iexact=email.strip())
    if exclude is not None and exclude.pk is not None:
        found = found.exclude(pk=exclude.pk)
    return bool(email.strip()) and found.exists()


class User(AbstractUser):
    """A person who signs in: a customer's employee or a member of the vendor's staff.

    What a person may do comes from their groups (staff roles) and their memberships of
    customer organisations (customer roles), never from flags on this model; see
    ``aftercare.accounts.roles``.
    """

    email = models.EmailField(_("e-mail address"), blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=settings.TIME_ZONE, validators=[validate_time_zone]
    )
    optional_mail = models.BooleanField(
        _("send me optional e-mail"),
        default=True,
        help_text=_(
            "Status changes and assignments. Replies, approvals and SLA warnings are always sent."
        ),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            # Mail intake files mail under the account with the sender's address: two
            # active accounts must never share one (case-insensitively).
            models.UniqueConstraint(
                Lower("email"),
                condition=Q(is_active=True) & ~Q(email=""),
                name="accounts_user_active_email_unique",
                violation_error_message=_("Another account already uses this e-mail address."),
            )
        ]

    def clean(self) -> None:
        super().clean()
        if self.is_active and self.email and email_taken(self.email, exclude=self):
            raise ValidationError(
                {"email": _("Another account already uses this e-mail address.")},
                code="email_taken",
            )

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email or self.username

    def __str__(self) -> str:
        return self.display_name


class TwoFactorDevice(models.Model):
    """A user's TOTP authenticator (RFC 6238); active once confirmed with a code.

    The shared secret must be readable to check codes, so it is stored as is; recovery
    codes are stored only as hashes (see ``aftercare.accounts.twofactor``).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="two_factor_device",
        verbose_name=_("user"),
    )
    secret = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    confirmed_at = models.DateTimeField(_("active since"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    # The last 30-second time step a code was accepted for: a code for that step or an
    # earlier one is refused (no replay within the window).
    last_used_step = models.BigIntegerField(default=0, editable=False)
    recovery_hashes = models.JSONField(default=list, blank=True, editable=False)

    class Meta:
        verbose_name = _("two-factor device")
        verbose_name_plural = _("two-factor devices")

    def __str__(self) -> str:
        return f"2FA {self.user}"

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None


class SecurityEvent(models.Model):
    """Audit trail for account changes that belong to no request: 2FA enrolment and
    reset, data exports and anonymisation (who, about whom, when, why)."""

    action = models.CharField(max_length=64)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        indexes = [models.Index(fields=["subject", "created_at"], name="secevent_subject")]

    def __str__(self) -> str:
        return self.action
