"""The search index: per request one public document and, if it has any, one internal one.

Two documents, not one, so that the rule "customers and staff without
``desk.view_internal_note`` never match on internal notes" is a plain filter on ``kind``
and a snippet can never be cut from text the reader may not see.

The folded columns (``number``, ``subject``, ``body``, ``names``) are what the engines
index: on SQLite an FTS5 table with this table as its external content, kept in step by
triggers; on PostgreSQL a generated ``tsvector`` column with a GIN index (migration 0001).
The ``raw_*`` columns keep the original text for snippets.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftercare.desk.models import Ticket
from aftercare.tenancy.models import Organisation


class SearchDocument(models.Model):
    class Kind(models.TextChoices):
        PUBLIC = "public", _("Public")
        INTERNAL = "internal", _("Internal")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    number = models.CharField(max_length=64, blank=True)
    subject = models.TextField(blank=True)
    body = models.TextField(blank=True)
    names = models.TextField(blank=True)
    raw_body = models.TextField(blank=True)
    raw_names = models.TextField(blank=True)
    # "o<organisation id>": lets the engine narrow a customer's or a restricted agent's
    # search to their organisations inside the full-text index (see ``backend``).
    scope = models.CharField(max_length=32, blank=True)
    # Whether the request is open (``desk.models.OPEN_STATUSES``): on PostgreSQL a partial
    # GIN index holds the open requests' documents only, so the queue's text filter over
    # the open set reads a few hundred index entries, not the whole history's. Kept in
    # step by ``signals._status_changed`` in the transition's own transaction.
    is_open = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "search_document"
        verbose_name = _("search document")
        verbose_name_plural = _("search documents")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "kind"], name="search_document_unique")
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind}"
