"""The scheduled path for real: a Huey consumer process runs the SLA job.

Once with SQLite storage (the embedded default) and once with Redis (scale-out); the
consumer is a separate process on the test database, as in production.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from aftercare.desk.models import Event, Priority
from aftercare.desk.tests.factories import ticket_for
from aftercare.sla.models import Notification, SlaClock
from conftest import database_url, require_service

ROOT = Path(__file__).resolve().parent.parent


def _redis_url() -> str:
    url = os.environ.get("AFTERCARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no Redis here"
        require_service("Redis", f"{url}: {exc}")
    return url


@pytest.fixture(params=["sqlite", "redis"])
def job_env(request, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "AFTERCARE_HUEY_NAME": f"test-{uuid.uuid4().hex[:8]}",
        "AFTERCARE_DATA_DIR": str(tmp_path),
        "AFTERCARE_SLA_CHECK_CRON": "0 0 1 1 *",  # the periodic run stays out of the way
        "REDIS_URL": "",
        "AFTERCARE_HUEY_IMMEDIATE": "0",
    }
    if request.param == "redis":
        env["REDIS_URL"] = _redis_url()
    else:
        env["AFTERCARE_HUEY_FILE"] = str(tmp_path / "huey.sqlite3")
    return env


def _manage(env, *args, **kwargs):
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, **kwargs
    )


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_the_sla_check_exactly_once(job_env, owner, org, consultant, manager):
    with connection.cursor():
        pass
    filed = ticket_for(
        owner, org, priority=Priority.NORMAL, created_at=timezone.now() - timedelta(days=30)
    )
    consumer = _manage(
        job_env,
        "run_huey",
        "--workers",
        "2",
        "--worker-type",
        "thread",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # Enqueue the job twice from another process, as two schedulers might.
        enqueue = (
            "import django; django.setup();"
            "from aftercare.sla.tasks import sla_check_now;"
            "sla_check_now(); sla_check_now()"
        )
        subprocess.run(
            [sys.executable, "-c", enqueue],
            cwd=ROOT,
            check=True,
            timeout=60,
            env={**job_env, "DJANGO_SETTINGS_MODULE": "aftercare.settings"},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if SlaClock.objects.filter(ticket=filed, breached_at__isnull=False).count() == 2:
                break
            time.sleep(0.5)
        time.sleep(2)  # let the second job finish too
    finally:
        consumer.terminate()
        out, _ = consumer.communicate(timeout=30)
    log = out.decode(errors="replace")
    assert SlaClock.objects.filter(ticket=filed, breached_at__isnull=False).count() == 2, log
    assert Event.objects.filter(ticket=filed, action="sla.breached").count() == 2, log
    # Two clocks, one manager, no assignee: two notifications, never four.
    assert Notification.objects.filter(ticket=filed, kind="breached").count() == 2, log
    assert "sla_check_now" in log


def test_the_periodic_jobs_are_registered():
    from django.conf import settings

    from aftercare.sla import tasks

    names = {t.name for t in settings.HUEY._registry.periodic_tasks}
    assert {"sla_check_periodic", "archive_periodic"} <= {n.rsplit(".", 1)[-1] for n in names}
    assert tasks.sla_check_periodic.task_class.validate_datetime is not None
