"""Time spent on requests: minutes per reply or note, billed per contract and month."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from aftercare.desk.models import Message, Ticket
from aftercare.tenancy.models import Contract, Organisation


class TimeEntry(models.Model):
    """Minutes one agent spent on one request, usually with the reply or note that
    recorded them. The contract is copied from the request when the time is recorded, so
    a later change of contract does not move hours already billed."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="time_entries")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    contract = models.ForeignKey(
        Contract, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="time_entries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="time_entries"
    )
    minutes = models.PositiveIntegerField(_("minutes"))
    spent_on = models.DateField(_("date"), default=timezone.localdate)
    note = models.CharField(_("note"), max_length=250, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("time entry")
        verbose_name_plural = _("time entries")
        indexes = [
            models.Index(fields=["ticket", "spent_on"], name="time_ticket"),
            models.Index(fields=["spent_on", "organisation"], name="time_month"),
            models.Index(fields=["contract", "spent_on"], name="time_contract"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.minutes} min"
