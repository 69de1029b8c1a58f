"""Periodic jobs. Thin: enter the system scope, call one service, return what it did.

Both services are idempotent (conditional updates and unique notification rows), so a
run repeated after a crash, or two consumers running one at once, change nothing twice.
"""

from __future__ import annotations

import logging

from django.conf import settings
from huey.contrib.djhuey import db_periodic_task, db_task

from aftercare.desk.services import archive_released
from aftercare.lib.schedule import cron
from aftercare.ops import maintenance
from aftercare.sla import services
from aftercare.tenancy.scoping import system_scope

log = logging.getLogger(__name__)


def _sla_check() -> dict:
    with system_scope():
        counts = services.check()
    if any(counts.values()):
        log.info("sla check: %s", counts)
    return counts


def run_sla_check() -> dict:
    # Read-only maintenance: skipped (logged), the first run after "off" catches up.
    return maintenance.run_job("SLA check", _sla_check, {})


def _archive() -> list[str]:
    with system_scope():
        archived = archive_released()
    if archived:
        log.info("archived %d released request(s)", len(archived))
    return archived


def run_archive() -> list[str]:
    return maintenance.run_job("archiving", _archive, [])


@db_periodic_task(cron(settings.AFTERCARE_SLA_CHECK_CRON, "AFTERCARE_SLA_CHECK_CRON"))
def sla_check_periodic() -> dict:
    return run_sla_check()


@db_periodic_task(cron(settings.AFTERCARE_ARCHIVE_CRON, "AFTERCARE_ARCHIVE_CRON"))
def archive_periodic() -> list[str]:
    return run_archive()


@db_task()
def sla_check_now() -> dict:
    """The same check on demand (after a bulk import, from the admin, from tests)."""
    return run_sla_check()
