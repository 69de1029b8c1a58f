"""Background jobs of the desk: expanding the follow-ups of committed changes."""

from __future__ import annotations

import logging

from django.conf import settings
from huey.contrib.djhuey import db_periodic_task, db_task

from aftercare.lib.schedule import cron
from aftercare.ops import maintenance

log = logging.getLogger(__name__)


def run_followups() -> dict:
    from aftercare.desk import followups

    def work() -> dict:
        counts = followups.expand()
        if counts["failed"]:
            log.warning("follow-ups: %s", counts)
        return counts

    # Maintenance (read-only): skipped; the rows wait and are expanded afterwards.
    return maintenance.run_job("follow-ups", work, {})


@db_task()
def expand_followups() -> None:
    """Enqueued by the commit of a change that has follow-ups (no result kept: one write
    less per change on the queue)."""
    run_followups()


@db_periodic_task(cron(settings.AFTERCARE_FOLLOWUPS_CRON, "AFTERCARE_FOLLOWUPS_CRON"))
def sweep_followups() -> dict:
    """Whatever a lost enqueue, a crash or a failing receiver left behind."""
    return run_followups()
