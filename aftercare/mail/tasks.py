"""Background jobs for mail. Thin: enter the system scope, call one service.

Sending is safe to repeat and to run in several consumers (rows are claimed with a
conditional update); fetching takes a per-mailbox lock so two consumers never read one
mailbox at once (intake would still be exactly-once, but would do the work twice).
"""

from __future__ import annotations

import logging

from django.conf import settings
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from aftercare.lib.schedule import cron
from aftercare.ops import maintenance
from aftercare.tenancy.scoping import system_scope

log = logging.getLogger(__name__)


def _outbox() -> dict:
    from aftercare.mail.outbound import send_due

    with system_scope():
        counts = send_due()
    if any(counts.values()):
        log.info("outbox: %s", counts)
    return counts


def run_outbox() -> dict:
    # Maintenance: skipped; the outbox keeps its rows, they go out after maintenance.
    return maintenance.run_job("sending mail", _outbox, {})


def _fetch() -> dict:
    from aftercare.mail.imap import fetch_all

    with system_scope():
        return fetch_all()


def run_fetch() -> dict:
    # Maintenance: skipped; mail stays unread on the server until maintenance ends.
    return maintenance.run_job("fetching mail", _fetch, {})


@db_task()
def send_outbox() -> dict:
    return run_outbox()


@db_periodic_task(cron(settings.AFTERCARE_MAIL_OUTBOX_CRON, "AFTERCARE_MAIL_OUTBOX_CRON"))
def outbox_periodic() -> dict:
    return run_outbox()


@db_periodic_task(cron(settings.AFTERCARE_MAIL_FETCH_CRON, "AFTERCARE_MAIL_FETCH_CRON"))
@lock_task("aftercare-mail-fetch")
def fetch_periodic() -> dict:
    return run_fetch()
