"""What an import brought in from another system, so that running it again is safe.

One ``ImportedRecord`` per external object (a Trello card, comment or member, a CSV row)
and organisation. The record remembers the row it became, a hash of the source content
and a snapshot of the values the import derived from it: a second run skips what did not
change and, for what did, changes only the fields that changed at the source since the
last run, so edits made meanwhile in Aftercare are not overwritten by stale source data.

Member records (kind ``user``) double as the stored mapping from a Trello member (id,
username or full name) to an Aftercare user, used to attribute comments on later runs.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from aftercare.desk.models import Message, Ticket
from aftercare.tenancy.models import Organisation


class ImportedRecord(models.Model):
    class Source(models.TextChoices):
        TRELLO = "trello", "Trello"
        CSV = "csv", "CSV"

    class Kind(models.TextChoices):
        CARD = "card", _("card")
        COMMENT = "comment", _("comment")
        USER = "user", _("user")
        NOTE = "note", _("generated note")
        ROW = "row", _("CSV row")

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("organisation"),
    )
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    external_id = models.CharField(_("external id"), max_length=255)
    name = models.CharField(
        _("external name"),
        max_length=255,
        blank=True,
        help_text=_("For members: the username (or full name) at the source."),
    )
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    content_hash = models.CharField(max_length=64, blank=True)
    snapshot = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("imported record")
        verbose_name_plural = _("imported records")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "source", "kind", "external_id"],
                name="unique_imported_record",
            )
        ]
        indexes = [
            # Members are looked up by their Trello id across organisations.
            models.Index(fields=["source", "kind", "external_id"], name="imported_external"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.kind} {self.external_id}"
