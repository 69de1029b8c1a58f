"""Periodic job: remind coordinators of contact persons who left without a replacement.

Thin, like every job: the system scope, one idempotent service (a contact is claimed
once a day with a conditional update), skipped in read-only maintenance.
"""

from __future__ import annotations

import logging

from django.conf import settings
from huey.contrib.djhuey import db_periodic_task

from aftercare.lib.schedule import cron
from aftercare.ops import maintenance
from aftercare.tenancy.contacts import remind_missing_replacements
from aftercare.tenancy.scoping import system_scope

log = logging.getLogger(__name__)


def _remind() -> int:
    with system_scope():
        queued = remind_missing_replacements()
    if queued:
        log.info("contact replacement reminders queued: %d", queued)
    return queued


def run_contact_reminders() -> int:
    return maintenance.run_job("contact replacement reminders", _remind, 0)


@db_periodic_task(cron(settings.AFTERCARE_CONTACT_REMINDER_CRON, "AFTERCARE_CONTACT_REMINDER_CRON"))
def contact_reminders_periodic() -> int:
    return run_contact_reminders()
