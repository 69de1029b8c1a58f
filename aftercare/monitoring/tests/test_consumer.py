"""The real path through a Huey consumer process: heartbeat, request id, failed job.

The enqueueing process plays the web request (its request id is active when it enqueues);
the consumer is a separate process on the test database, with JSON logs, as in
production. Once on SQLite queue storage and once on Redis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from aftercare.monitoring.models import FailedJob, WorkerHeartbeat
from conftest import database_url, require_service

ROOT = Path(__file__).resolve().parents[3]
RID = "trip-through-the-queue-0001"


@pytest.fixture(params=["sqlite", "redis"])
def job_env(request, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aftercare.settings",
        "DATABASE_URL": database_url(),
        "AFTERCARE_HUEY_NAME": f"test-{uuid.uuid4().hex[:8]}",
        "AFTERCARE_DATA_DIR": str(tmp_path),
        "AFTERCARE_HUEY_IMMEDIATE": "0",
        "AFTERCARE_LOG_FORMAT": "json",
        "AFTERCARE_HEARTBEAT_CRON": "0 0 1 1 *",  # only the run we enqueue
        "REDIS_URL": "",
    }
    for name in (
        "AFTERCARE_SLA_CHECK_CRON",
        "AFTERCARE_ARCHIVE_CRON",
        "AFTERCARE_MAIL_FETCH_CRON",
        "AFTERCARE_MAIL_OUTBOX_CRON",
        "AFTERCARE_WEBHOOKS_CRON",
        "AFTERCARE_BACKUP_CRON",
    ):
        env[name] = "0 0 1 1 *"
    if request.param == "redis":
        url = os.environ.get("AFTERCARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
        try:
            import redis

            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        except Exception as exc:  # noqa: BLE001 - any failure means "no Redis here"
            require_service("Redis", f"{url}: {exc}")
        env["REDIS_URL"] = url
    else:
        env["AFTERCARE_HUEY_FILE"] = str(tmp_path / "huey.sqlite3")
    return env


ENQUEUE = f"""
import django
django.setup()
from aftercare.monitoring import context
from aftercare.monitoring.tasks import heartbeat_periodic
context.activate(context.Context(request_id={RID!r}))
heartbeat_periodic()
heartbeat_periodic("an argument it does not take")
"""


@pytest.mark.django_db(transaction=True)
def test_a_consumer_beats_logs_the_request_id_and_records_failures(job_env, settings):
    with connection.cursor():
        pass
    consumer = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "run_huey",
            "--workers",
            "2",
            "--worker-type",
            "thread",
        ],
        cwd=ROOT,
        env=job_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        subprocess.run(
            [sys.executable, "-c", ENQUEUE], cwd=ROOT, env=job_env, check=True, timeout=120
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if WorkerHeartbeat.objects.exists() and FailedJob.objects.exists():
                break
            time.sleep(0.5)
    finally:
        consumer.terminate()
        out, _ = consumer.communicate(timeout=30)
    log = out.decode(errors="replace")
    beat = WorkerHeartbeat.objects.get()
    assert beat.worker.endswith(f"/{consumer.pid}"), log
    job = FailedJob.objects.get()
    assert job.task_name == "aftercare.monitoring.tasks.heartbeat_periodic"
    assert job.args == ["an argument it does not take"]
    assert job.error.startswith("TypeError"), job.error
    assert job.request_id == RID
    lines = [json.loads(x) for x in log.splitlines() if x.startswith("{")]
    ours = [x for x in lines if x.get("request_id") == RID]
    assert any(x.get("task") == "aftercare.monitoring.tasks.heartbeat_periodic" for x in ours), log
    assert any(x.get("exc_type") == "TypeError" for x in ours), log
    # The consumer's heartbeat makes this process's probe see a live worker.
    settings.AFTERCARE_HEALTH_MAILBOX_STALE_MINUTES = 0
    settings.AFTERCARE_HEALTH_TOKEN = "consumer-test-token"
    body = Client().get("/readyz", HTTP_X_HEALTH_TOKEN="consumer-test-token").json()
    assert body["checks"]["workers"]["status"] == "ok", body
