"""The maintenance flag: one row, read by every web process and worker."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class MaintenanceFlag(models.Model):
    """Read-only maintenance mode. A single row (pk 1); writing it is the one allowed write.

    It lives in the database (not a file or the cache) because every process — several
    app servers, workers, the MTA's ``ingest-mail`` pipe — must see the same switch. It
    has no foreign key on purpose: backups leave it out and a restore never touches it.
    """

    is_on = models.BooleanField(_("read-only maintenance mode"), default=False)
    message = models.CharField(
        _("message"),
        max_length=500,
        blank=True,
        help_text=_("Shown in the banner, e.g. when the work will be done."),
    )
    changed_at = models.DateTimeField(_("changed at"), null=True, blank=True)
    changed_by = models.CharField(_("changed by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("maintenance mode")
        verbose_name_plural = _("maintenance mode")

    def __str__(self) -> str:
        return str(_("Maintenance mode: on") if self.is_on else _("Maintenance mode: off"))
