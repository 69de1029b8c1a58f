"""Real processes for scale-out, fault and soak runs: gunicorn app servers, Huey consumers.

Used by ``tests/test_scale_out.py``, ``tests/test_faults.py`` and ``bench/soak.py``. Every
process is started by the caller with an explicit environment (the database, Redis and
queue name, the SMTP sink), binds to 127.0.0.1 only, and is stopped by ``Cluster.stop``.
Standard library only (``http.client``), so the harness adds no dependency.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_available(url: str) -> str:
    """'' when Redis answers at ``url``, else the reason."""
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no Redis here"
        return f"{url}: {exc}"
    return ""


def flush_huey(redis_url: str, name: str) -> None:
    """Delete the keys of one Huey queue (its name is the key prefix)."""
    import redis

    r = redis.Redis.from_url(redis_url)
    keys = list(r.scan_iter(match=f"huey.*{name}*", count=500))
    if keys:
        r.delete(*keys)


def _secret_key() -> str:
    try:
        from django.conf import settings

        return settings.SECRET_KEY
    except Exception:  # noqa: BLE001 - Django not configured in this process
        return os.environ.get("SECRET_KEY", "cluster-secret-key-shared-by-every-process-0123")


def base_env(
    *,
    database_url: str,
    data_dir: Path,
    redis_url: str = "",
    smtp_port: int | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment every process of one test cluster shares."""
    (data_dir / "static").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aftercare.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AFTERCARE_HUEY_NAME": f"cluster-{uuid.uuid4().hex[:10]}",
        "AFTERCARE_HUEY_FILE": str(data_dir / "huey.sqlite3"),
        "AFTERCARE_HUEY_IMMEDIATE": "0",
        "AFTERCARE_DATA_DIR": str(data_dir),
        "AFTERCARE_MEDIA_ROOT": str(data_dir / "media"),
        "AFTERCARE_MODE": "development",
        "DEBUG": "0",
        # Sessions a test signs in for its HTTP clients must be readable by the servers.
        "SECRET_KEY": _secret_key(),
        "AFTERCARE_STATIC_ROOT": str(data_dir / "static"),
        "AFTERCARE_API_RATE_LIMIT": "1000000",
        "AFTERCARE_LOG_LEVEL": "WARNING",
        # The sweeps would run every minute in every consumer; the kicks after each
        # commit are what these runs measure, so the crons stay out of the way.
        "AFTERCARE_SLA_CHECK_CRON": "0 0 1 1 *",
        "AFTERCARE_ARCHIVE_CRON": "0 0 1 1 *",
        "AFTERCARE_MAIL_FETCH_CRON": "0 0 1 1 *",
        "AFTERCARE_MAIL_OUTBOX_CRON": "0 0 1 1 *",
        "AFTERCARE_WEBHOOKS_CRON": "0 0 1 1 *",
    }
    env.pop("AFTERCARE_FAULTS", None)
    if smtp_port:
        env.update(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(smtp_port),
            EMAIL_USE_TLS="0",
            EMAIL_USE_SSL="0",
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
        )
    env.update(extra)
    return env


class Cluster:
    """Processes started for one run; ``stop()`` ends exactly those."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None) -> subprocess.Popen:
        with (self.log_dir / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env or self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append((name, proc))
        return proc

    def web(self, port: int, *, workers: int = 2, env: dict | None = None) -> subprocess.Popen:
        proc = self._spawn(
            f"web-{port}",
            [
                str(BIN / "gunicorn"),
                "aftercare.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
            ],
            env,
        )
        wait_http(proc, port, "/accounts/login/", self.log_dir / f"web-{port}.log")
        return proc

    def consumer(
        self, name: str, *, workers: int = 2, periodic: bool = True, env: dict | None = None
    ) -> subprocess.Popen:
        cmd = [sys.executable, str(ROOT / "manage.py"), "run_huey", "--workers", str(workers)]
        cmd += ["--worker-type", "thread", "--delay", "0.1", "--max-delay", "0.5"]
        if not periodic:
            cmd.append("--no-periodic")
        return self._spawn(name, cmd, env)

    def manage(self, *args: str, input: bytes | None = None, timeout: float = 120) -> str:
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=self.env,
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed: {done.stderr.decode()[-2000:]}")
        return done.stdout.decode()

    def python(self, code: str, timeout: float = 120) -> str:
        """Run ``code`` after ``django.setup()`` in a fresh process with the cluster's env."""
        done = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()\n" + code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"script failed: {done.stderr.decode()[-3000:]}")
        return done.stdout.decode()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )

    @staticmethod
    def end(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            self.end(proc)
        self.procs.clear()


def wait_http(proc: subprocess.Popen, port: int, path: str, log: Path, timeout=60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited:\n{log.read_text(errors='replace')}")
        try:
            status, _h, _b = Http(port).request("GET", path)
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not answer in {timeout} s")


class Http:
    """A tiny browser: cookies, CSRF tokens from forms, JSON and bearer tokens."""

    def __init__(self, port: int, *, token: str = "", timeout: float = 30) -> None:
        self.port = port
        self.token = token
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        *,
        form: dict | None = None,
        json_body: object = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        hdrs = {"Host": "127.0.0.1", **(headers or {})}
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        if form is not None:
            body = urlencode(form, doseq=True).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        if method == "POST" and "csrftoken" in self.cookies and not self.token:
            hdrs.setdefault("X-CSRFToken", self.cookies["csrftoken"])
            hdrs.setdefault("Referer", f"http://127.0.0.1:{self.port}/")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            payload = resp.read()
            for raw in resp.headers.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(raw)
                for name, morsel in jar.items():
                    self.cookies[name] = morsel.value
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload
        finally:
            conn.close()

    def csrf_from(self, path: str) -> str:
        status, _h, page = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} -> {status}")
        m = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        return m.group(1).decode() if m else self.cookies.get("csrftoken", "")

    def login(self, username: str, password: str) -> None:
        token = self.csrf_from("/accounts/login/")
        status, _h, _b = self.request(
            "POST",
            "/accounts/login/",
            form={"username": username, "password": password, "csrfmiddlewaretoken": token},
        )
        if status != 302:
            raise RuntimeError(f"sign-in as {username} failed: HTTP {status}")


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """(body, content type) of a multipart/form-data POST."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + str(value).encode()
            + b"\r\n"
        )
    for field, filename, data in files:
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
