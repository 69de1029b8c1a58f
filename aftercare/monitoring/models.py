"""What the monitoring keeps: failed background jobs and the workers' heartbeats.

Neither is tenant data (a job's arguments are ids, its error a developer's message), so
neither has a scope; only unrestricted administrators see them.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class FailedJob(models.Model):
    """One Huey task that raised: kept until someone retries it or marks it handled.

    A task with Huey retries left is recorded at its first failure (``will_retry``) and
    the same row is updated by its later attempts; a retry from the failures page re-runs
    the task with its original arguments and updates this row again.
    """

    task_id = models.CharField(_("task id"), max_length=64, db_index=True)
    task_name = models.CharField(_("task"), max_length=255)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    kwargs = models.JSONField(_("keyword arguments"), default=dict, blank=True)
    # False when the arguments were not JSON (then ``args`` holds their repr): such a job
    # cannot be re-run from the page.
    replayable = models.BooleanField(_("can be re-run"), default=True)
    error = models.TextField(_("error"))
    traceback = models.TextField(_("traceback"), blank=True)
    request_id = models.CharField(_("request id"), max_length=128, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(_("failed attempts"), default=1)
    will_retry = models.BooleanField(_("Huey will retry"), default=False)
    failed_at = models.DateTimeField(_("failed"), default=timezone.now)
    retried_at = models.DateTimeField(_("retried"), null=True, blank=True)
    resolved = models.BooleanField(_("resolved"), default=False)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("failed job")
        verbose_name_plural = _("failed jobs")
        ordering = ["-failed_at", "-pk"]
        indexes = [models.Index(fields=["resolved", "-failed_at"], name="failedjob_open")]
        permissions = [("retry_failedjob", "Can retry failed jobs and deliveries")]

    def __str__(self) -> str:
        return f"{self.task_name} ({self.task_id})"


class WorkerHeartbeat(models.Model):
    """Written every minute by a periodic task, by whichever consumer process runs it.

    ``worker`` identifies the process (host and pid); it is shown to nobody outside the
    admin, since host names are nothing a public probe should reveal.
    """

    worker = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")

    def __str__(self) -> str:
        return self.worker
