"""The deployment switches and files in deploy/ say what deploy/README.md promises."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def _settings_in_process(**env: str) -> subprocess.CompletedProcess:
    code = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps({'storage': s.STORAGES['default'], "
        "'health': s.DATABASES['default']['CONN_HEALTH_CHECKS']}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_S3_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "aftercare.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_attachments_go_to_the_filesystem_by_default():
    assert settings.STORAGES["default"]["BACKEND"] == (
        "django.core.files.storage.FileSystemStorage"
    )
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


def test_the_s3_switch_configures_django_storages():
    done = _settings_in_process(
        AFTERCARE_STORAGE="s3",
        AFTERCARE_S3_BUCKET="attachments",
        AFTERCARE_S3_ENDPOINT_URL="https://minio.internal:9000",
        AFTERCARE_S3_REGION="eu-central-1",
        AFTERCARE_S3_ACCESS_KEY_ID="key-id",
        AFTERCARE_S3_SECRET_ACCESS_KEY="secret",
    )
    assert done.returncode == 0, done.stderr
    storage = json.loads(done.stdout)["storage"]
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    options = storage["OPTIONS"]
    assert options["bucket_name"] == "attachments"
    assert options["endpoint_url"] == "https://minio.internal:9000"
    assert options["region_name"] == "eu-central-1"
    assert (options["access_key"], options["secret_key"]) == ("key-id", "secret")
    assert options["default_acl"] == "private" and options["file_overwrite"] is False


def test_the_s3_switch_refuses_a_missing_bucket_and_unknown_backends():
    done = _settings_in_process(AFTERCARE_STORAGE="s3")
    assert done.returncode != 0 and "AFTERCARE_S3_BUCKET" in done.stderr
    done = _settings_in_process(AFTERCARE_STORAGE="ftp")
    assert done.returncode != 0 and "AFTERCARE_STORAGE" in done.stderr


def test_health_checks_can_be_turned_off():
    done = _settings_in_process(DB_CONN_HEALTH_CHECKS="0")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["health"] is False


def test_only_the_scheduler_unit_schedules_periodic_jobs():
    worker = (DEPLOY / "systemd" / "aftercare-worker@.service").read_text()
    scheduler = (DEPLOY / "systemd" / "aftercare-scheduler.service").read_text()
    start = re.compile(r"^ExecStart=(.*?)(?<!\\)$", re.M | re.S)
    assert "--no-periodic" in start.search(worker).group(1)
    assert "--no-periodic" not in start.search(scheduler).group(1)
    assert "run_huey" in start.search(scheduler).group(1)


def test_nginx_accepts_uploads_as_large_as_the_app_does():
    conf = (DEPLOY / "nginx" / "aftercare.conf").read_text()
    megabytes = int(re.search(r"client_max_body_size (\d+)m;", conf).group(1))
    most = settings.AFTERCARE_MAX_ATTACHMENTS_PER_MESSAGE * settings.AFTERCARE_MAX_ATTACHMENT_BYTES
    assert megabytes * 1024 * 1024 >= most
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Request-ID"):
        assert f"proxy_set_header {header}" in conf
    assert "location = /healthz" in conf


def test_the_environment_example_names_only_documented_variables():
    documented = set(
        re.findall(r"`([A-Z][A-Z0-9_]*)`", (ROOT / "docs/configuration.md").read_text())
    )
    example = (DEPLOY / "aftercare.env.example").read_text()
    names = {
        re.sub(r"_FILE$", "", m) for m in re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, re.M)
    }
    assert names - documented == set()
