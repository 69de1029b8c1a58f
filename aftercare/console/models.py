"""Saved queue views: a name for a set of filters and a sort.

The console holds no rules; a saved view is only a remembered query string, run through
the same filter form and visibility rules as a typed one. A personal view is its owner's
alone; a shared view is seen by every agent and curated by managers.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SavedView(models.Model):
    name = models.CharField(_("name"), max_length=80)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("owner"),
    )
    is_shared = models.BooleanField(_("shared"), default=False)
    # Only the queue's filter keys, normalised (see ``console.forms.normalise_filters``).
    query = models.CharField(_("filters"), max_length=1000, blank=True)
    sort = models.CharField(_("sort"), max_length=20, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["position", "pk"]
        indexes = [models.Index(fields=["owner", "is_shared", "position"], name="savedview_owner")]
        permissions = [("manage_shared_views", "Can curate the queue views shared by all agents")]

    def __str__(self) -> str:
        return self.name

    def filters(self) -> QueryDict:
        return QueryDict(self.query)

    def url_query(self) -> str:
        """The queue's query string for this view: exactly its filters and its sort."""
        params = self.filters().copy()
        if self.sort:
            params["sort"] = self.sort
        return params.urlencode()
