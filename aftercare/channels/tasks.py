"""Jobs: send an agent's reply to a chat (right after the commit), and the sweep that
retries what could not be sent. Thin: enter the system scope, call one function."""

from __future__ import annotations

from django.conf import settings
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from aftercare.lib.schedule import cron
from aftercare.ops import maintenance
from aftercare.tenancy.scoping import system_scope


def _send(delivery_id: int) -> str:
    from aftercare.channels.outbound import send

    with system_scope():
        return send(delivery_id)


def _sweep() -> dict:
    from aftercare.channels.outbound import send_due

    with system_scope():
        return send_due()


@db_task()
def deliver(delivery_id: int) -> str:
    # A failed send is not an exception: the row says "retrying" and the sweep retries
    # with back-off (so a messenger outage does not fill the failed-jobs list).
    return maintenance.run_job("sending to messengers", lambda: _send(delivery_id), "")


@db_periodic_task(cron(settings.AFTERCARE_CHANNELS_OUTBOX_CRON, "AFTERCARE_CHANNELS_OUTBOX_CRON"))
@lock_task("aftercare-channels-outbox")
def outbox_periodic() -> dict:
    return maintenance.run_job("sending to messengers", _sweep, {})
