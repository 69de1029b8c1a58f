"""/healthz and /readyz: what a load balancer and a monitoring system see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from aftercare.accounts.roles import Role
from aftercare.mail.models import Mailbox, OutboundMail
from aftercare.monitoring.heartbeat import beat
from aftercare.monitoring.models import FailedJob, WorkerHeartbeat
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


@pytest.fixture
def mailbox(db):
    return Mailbox.objects.create(
        name="support-alpha",
        address="support@aftercare.test",
        host="imap.internal-secret.example",
        username="imap-user",
        password="hunter2-imap-password",
        last_success_at=timezone.now(),
    )


TOKEN = "probe-token-1234567890"


@pytest.fixture(autouse=True)
def health_token(settings):
    settings.AFTERCARE_HEALTH_TOKEN = TOKEN


def _ready(client=None, **headers):
    """The probe as the monitoring system asks it: with the token, unless told otherwise
    (``_anonymous``: no header at all)."""
    if not headers.pop("_anonymous", False) and client is None and not headers:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    response = (client or Client()).get("/readyz", **headers)
    return response, response.json()


def test_healthz_answers_ok_without_touching_the_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_readyz_is_ok_when_everything_answers(mailbox):
    beat()
    response, body = _ready()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "queue", "workers", "mailboxes", "backlog"}
    for name, check in body["checks"].items():
        assert check["status"] == "ok", (name, check)
        assert isinstance(check["latency_ms"], float)
        assert check["message"]
    assert body["checks"]["workers"]["detail"]["alive"] == 1
    assert body["checks"]["mailboxes"]["detail"]["mailboxes"][0]["name"] == "support-alpha"


def test_readyz_fails_when_no_worker_has_beaten_recently(mailbox):
    WorkerHeartbeat.objects.create(
        worker="old-host/1", seen_at=timezone.now() - timedelta(minutes=10)
    )
    response, body = _ready()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["workers"]["status"] == "fail"
    assert "no worker heartbeat for" in body["checks"]["workers"]["message"]
    assert "old-host" not in response.content.decode()  # host names stay private


def test_readyz_fails_when_no_worker_ever_reported():
    response, body = _ready()
    assert response.status_code == 503
    assert body["checks"]["workers"]["message"] == "no worker has reported yet"


def test_the_stale_limit_is_a_setting(settings, mailbox):
    WorkerHeartbeat.objects.create(worker="w/1", seen_at=timezone.now() - timedelta(minutes=10))
    settings.AFTERCARE_HEALTH_WORKER_STALE_SECONDS = 3600
    response, body = _ready()
    assert response.status_code == 200
    assert body["checks"]["workers"]["status"] == "ok"


def test_a_mailbox_not_read_for_a_while_degrades_but_stays_ready(mailbox):
    beat()
    Mailbox.objects.filter(pk=mailbox.pk).update(
        last_success_at=timezone.now() - timedelta(hours=2), last_error="login to imap failed"
    )
    Mailbox.objects.create(name="never-read", address="b@x.test", host="h", username="u")
    Mailbox.objects.create(
        name="switched-off", address="c@x.test", host="h", username="u", is_active=False
    )
    response, body = _ready()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    check = body["checks"]["mailboxes"]
    assert check["status"] == "degraded"
    assert "support-alpha" in check["message"] and "never-read" in check["message"]
    assert "switched-off" not in response.content.decode()
    rows = {m["name"]: m for m in check["detail"]["mailboxes"]}
    assert rows["support-alpha"]["age_seconds"] >= 7200
    assert rows["never-read"]["last_success_at"] is None


def test_readyz_never_shows_hosts_users_or_passwords(mailbox):
    beat()
    Mailbox.objects.filter(pk=mailbox.pk).update(last_success_at=None)
    text = Client().get("/readyz").content.decode()
    for secret in ("imap.internal-secret.example", "imap-user", "hunter2"):
        assert secret not in text


def test_failures_and_a_late_outbox_degrade_readiness(mailbox, settings):
    beat()
    now = timezone.now()
    common = {"kind": "test", "to_address": "a@x.test", "subject": "s", "body_text": "b"}
    OutboundMail.objects.create(
        dedupe_key="late", not_before=now - timedelta(hours=1), message_id="<1@x>", **common
    )
    OutboundMail.objects.create(
        dedupe_key="dead", state=OutboundMail.State.FAILED, message_id="<2@x>", **common
    )
    FailedJob.objects.create(task_id="t1", task_name="x.y", error="boom")
    response, body = _ready()
    assert response.status_code == 200
    check = body["checks"]["backlog"]
    assert check["status"] == "degraded"
    assert check["detail"]["outbox_pending"] == 1
    assert check["detail"]["outbox_failed"] == 1
    assert check["detail"]["jobs_failed"] == 1
    assert "waiting for over 30 min" in check["message"]
    assert "2 failure(s)" in check["message"]


def test_a_health_token_hides_the_details_from_anonymous_callers(
    settings, mailbox, client_for, operator, owner
):
    beat()
    response, body = _ready(_anonymous=True)
    assert response.status_code == 200
    assert body == {"status": "ok"}
    _response, body = _ready(HTTP_AUTHORIZATION="Bearer wrong-token")
    assert body == {"status": "ok"}
    _response, body = _ready(client_for(owner))
    assert body == {"status": "ok"}  # a customer is no monitoring system
    _response, body = _ready(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert "database" in body["checks"]
    _response, body = _ready(HTTP_X_HEALTH_TOKEN=TOKEN)
    assert "database" in body["checks"]
    _response, body = _ready(client_for(staff(Role.ADMIN, username="admin")))
    assert "database" in body["checks"]


def test_without_a_token_anonymous_callers_get_only_the_status(settings, mailbox, client_for):
    """Finding 17a: with no AFTERCARE_HEALTH_TOKEN set, /readyz used to show every check
    (mailbox names, failure counts) to anyone on the network."""
    settings.AFTERCARE_HEALTH_TOKEN = ""
    beat()
    response, body = _ready(_anonymous=True)
    assert response.status_code == 200
    assert body == {"status": "ok"}
    _response, body = _ready(HTTP_AUTHORIZATION="Bearer anything")
    assert body == {"status": "ok"}
    admin = staff(Role.ADMIN, username="admin")
    _response, body = _ready(client_for(admin))
    assert body["checks"]["mailboxes"]["detail"]["mailboxes"][0]["name"] == "support-alpha"


def test_a_failing_probe_keeps_its_http_code_without_details(settings):
    settings.AFTERCARE_HEALTH_TOKEN = ""
    response, body = _ready(_anonymous=True)  # no worker ever reported: fail
    assert response.status_code == 503
    assert body == {"status": "fail"}


def test_only_administrators_serving_every_customer_see_details(
    settings, mailbox, client_for, operator, org
):
    """Other staff (an L1 operator) and an administrator restricted to some organisations
    see only the status: the details span every organisation, like the failures page."""
    beat()
    _response, body = _ready(client_for(operator))
    assert body == {"status": "ok"}
    admin = staff(Role.ADMIN, username="admin")
    AgentRestriction.objects.create(user=admin, organisation=org)
    _response, body = _ready(client_for(admin))
    assert body == {"status": "ok"}


def _probe_in_a_process(tmp_path, database_url: str) -> dict:
    """Start Django in a fresh process against ``database_url`` and ask both probes."""
    code = (
        "import json, django\n"
        "django.setup()\n"
        "from django.test import Client\n"
        "c = Client()\n"
        "h = c.get('/healthz'); r = c.get('/readyz', HTTP_X_HEALTH_TOKEN='t0k3n-probe')\n"
        "print(json.dumps({'healthz': [h.status_code, h.json()],"
        " 'readyz': [r.status_code, r.json()]}))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aftercare.settings",
        "DATABASE_URL": database_url,
        "AFTERCARE_DATA_DIR": str(tmp_path),
        "AFTERCARE_LOG_LEVEL": "CRITICAL",
        "AFTERCARE_HEALTH_TOKEN": "t0k3n-probe",
    }
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_readyz_fails_and_healthz_stays_ok_when_the_database_is_down(tmp_path):
    # A real PostgreSQL client against a port nobody listens on: connection refused.
    result = _probe_in_a_process(tmp_path, "postgres://aftercare:pw-secret@127.0.0.1:9/aftercare")
    assert result["healthz"] == [200, {"status": "ok"}]
    status, body = result["readyz"]
    assert status == 503
    assert body["status"] == "fail"
    assert body["checks"]["database"]["status"] == "fail"
    assert body["checks"]["database"]["message"] == "unavailable (OperationalError)"
    assert body["checks"]["workers"]["message"] == "not checked: no database"
    assert body["checks"]["cache"]["status"] == "ok"
    text = json.dumps(body)
    assert "127.0.0.1" not in text and "pw-secret" not in text
