"""The daily backup (``AFTERCARE_BACKUP_CRON``, 02:30 by default) and its retention.

A backup only reads, so it runs in maintenance mode too (that is often exactly when one
is wanted). One consumer at a time, by a Huey lock.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from huey.contrib.djhuey import db_periodic_task, lock_task

from aftercare.lib.schedule import cron

log = logging.getLogger(__name__)


def run_backup() -> dict:
    from aftercare.ops.backup import create_backup
    from aftercare.ops.retention import prune

    folder = Path(settings.AFTERCARE_BACKUP_DIR)
    path = create_backup(folder)
    removed = prune(
        folder,
        keep_daily=settings.AFTERCARE_BACKUP_KEEP_DAILY,
        keep_weekly=settings.AFTERCARE_BACKUP_KEEP_WEEKLY,
    )
    return {"archive": str(path), "removed": [p.name for p in removed]}


@db_periodic_task(cron(settings.AFTERCARE_BACKUP_CRON, "AFTERCARE_BACKUP_CRON"))
@lock_task("aftercare-backup")
def backup_periodic() -> dict:
    return run_backup()
