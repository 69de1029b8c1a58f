"""Real mail servers for tests: aiosmtpd (SMTP) and Dovecot (IMAP) on 127.0.0.1.

See ../shared/RECIPES.md. Dovecot is Debian's ``dovecot-imapd``; without it the IMAP
tests skip locally and fail in CI (``require_service``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self):
        return message_from_bytes(self.data, policy=policy.default)


@dataclass
class SmtpSink:
    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    fail_next: int = 0  # answer this many DATA commands with a temporary failure

    async def handle_DATA(self, server, session, envelope):
        if self.fail_next > 0:
            self.fail_next -= 1
            return "451 4.3.0 Try again later"
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        )
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


DOVECOT_CONF = """
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 8
first_valid_gid = 8
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home=/nonexistent
}}
"""


@dataclass
class Dovecot:
    directory: Path
    port: int
    user: str = "support@example.test"
    password: str = "secret"
    process: subprocess.Popen | None = None

    @staticmethod
    def available() -> str:
        return "" if shutil.which("dovecot") else "dovecot is not installed (dovecot-imapd)"

    def start(self) -> Dovecot:
        d = self.directory
        for sub in ("mail", "state", "run"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        conf = d / "dovecot.conf"
        conf.write_text(DOVECOT_CONF.format(d=d, port=self.port))
        subprocess.run(["chown", "-R", "mail:mail", str(d / "mail")], check=True)
        d.chmod(0o755)
        subprocess.run(["dovecot", "-c", str(conf)], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot did not start: " + (d / "dovecot.log").read_text()[-2000:])

    def stop(self) -> None:
        pid_file = self.directory / "run" / "master.pid"
        if pid_file.exists():
            subprocess.run(["kill", pid_file.read_text().strip()], check=False)
            deadline = time.monotonic() + 5
            while pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)

    def client(self):
        from imap_tools import MailBoxUnencrypted

        return MailBoxUnencrypted("127.0.0.1", port=self.port).login(self.user, self.password)

    def append(self, *raws: bytes) -> None:
        with self.client() as box:
            for raw in raws:
                box.append(raw, "INBOX")
