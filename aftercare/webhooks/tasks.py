"""Background jobs for webhooks. Thin: enter the system scope, call one service.

Delivering is safe to repeat and to run in several consumers at once (rows are claimed
with a conditional update). The job runs after every commit that queued a delivery and
every minute (``AFTERCARE_WEBHOOKS_CRON``), which also picks up retries that fell due
and forgets old finished deliveries.
"""

from __future__ import annotations

import logging

from django.conf import settings
from huey.contrib.djhuey import db_periodic_task, db_task

from aftercare.lib.schedule import cron
from aftercare.ops import maintenance
from aftercare.tenancy.scoping import system_scope

log = logging.getLogger(__name__)


def run_deliveries(*, purge: bool = False) -> dict:
    from aftercare.webhooks import delivery

    def work() -> dict:
        with system_scope():
            counts = delivery.deliver_due()
            if purge:
                counts["purged"] = delivery.purge()
        if any(counts.values()):
            log.info("webhooks: %s", counts)
        return counts

    # Maintenance: skipped; deliveries stay due and are posted after maintenance.
    return maintenance.run_job("webhook delivery", work, {})


@db_task()
def deliver_webhooks() -> dict:
    return run_deliveries()


@db_periodic_task(cron(settings.AFTERCARE_WEBHOOKS_CRON, "AFTERCARE_WEBHOOKS_CRON"))
def webhooks_periodic() -> dict:
    return run_deliveries(purge=True)
