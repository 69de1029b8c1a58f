"""The worker heartbeat (every minute by default, ``AFTERCARE_HEARTBEAT_CRON``)."""

from __future__ import annotations

from django.conf import settings
from huey.contrib.djhuey import db_periodic_task

from aftercare.lib.schedule import cron


@db_periodic_task(cron(settings.AFTERCARE_HEARTBEAT_CRON, "AFTERCARE_HEARTBEAT_CRON"))
def heartbeat_periodic() -> str:
    from aftercare.monitoring.heartbeat import beat

    return beat()
