from __future__ import annotations

from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


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

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email or self.username

    def __str__(self) -> str:
        return self.display_name
