"""Faults against real processes: what breaks, what the user sees, what heals by itself.

See docs/faults.md for the list; each test here proves one line of it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from cluster import Cluster, Http, base_env, free_port
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aftercare.desk import services
from aftercare.desk.models import Attachment, Event, Message, Priority, Ticket
from aftercare.mail.models import OutboundMail
from conftest import database_url

# -- the worker dies in the middle of a job ------------------------------------------------


def _queue_mails(count: int) -> list[OutboundMail]:
    return [
        OutboundMail.objects.create(
            kind="test",
            dedupe_key=f"fault-test-{i}",
            to_address=f"person{i}@example.test",
            subject=f"Mail {i}",
            body_text=f"Body {i}",
            message_id=f"<fault-{i}@aftercare.invalid>",
        )
        for i in range(count)
    ]


def _states() -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in OutboundMail.objects.values_list("state", flat=True):
        counts[state] = counts.get(state, 0) + 1
    return counts


def _wait(predicate, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


KICK = "from aftercare.mail.tasks import send_outbox; send_outbox()"


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_claiming_a_mail_sends_every_mail_exactly_once(smtp_sink, tmp_path):
    with connection.cursor():
        pass  # the test database exists before the processes open it
    _queue_mails(5)
    env = base_env(database_url=database_url(), data_dir=tmp_path, smtp_port=smtp_sink.port)
    cluster = Cluster(env, tmp_path / "logs")
    try:
        # The consumer dies (SIGKILL) right after claiming the third mail, before sending it.
        doomed = cluster.consumer(
            "doomed", env={**env, "AFTERCARE_FAULTS": "mail.outbound.after_claim=3"}
        )
        cluster.python(KICK)
        doomed.wait(timeout=60)
        assert doomed.returncode == -signal.SIGKILL, cluster.logs()
        assert _states() == {"sent": 2, "sending": 1, "queued": 2}
        assert len(smtp_sink.received) == 2

        # A healthy consumer sends the rest but leaves the claimed row alone: its claim is
        # fresh, and for all it knows another worker is sending it right now.
        cluster.consumer("healthy")
        cluster.python(KICK)
        _wait(lambda: _states().get("sent") == 4, what="four mails sent")
        time.sleep(1)
        assert _states() == {"sent": 4, "sending": 1}

        # Once the claim is stale (STALE_AFTER), the next run takes the row back and sends it.
        OutboundMail.objects.filter(state="sending").update(
            claimed_at=timezone.now() - timedelta(minutes=16)
        )
        cluster.python(KICK)
        _wait(lambda: _states() == {"sent": 5}, what="all five mails sent")
    finally:
        cluster.stop()
    smtp_sink.wait_for(5)
    time.sleep(0.5)
    ids = sorted(r.message["Message-ID"] for r in smtp_sink.received)
    assert ids == sorted(f"<fault-{i}@aftercare.invalid>" for i in range(5)), ids


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_claiming_a_webhook_delivers_each_exactly_once(org, tmp_path):
    from aftercare.webhooks.models import Delivery, Subscription
    from aftercare.webhooks.tests.receiver import Receiver

    receiver = Receiver().start()
    subscription = Subscription.objects.create(
        name="r", target_url=receiver.url(), events=["ticket.created"]
    )
    for i in range(4):
        Delivery.objects.create(
            subscription=subscription,
            event="ticket.created",
            dedupe_key=f"fault-{i}",
            payload=f'{{"n": {i}}}',
        )
    env = base_env(
        database_url=database_url(),
        data_dir=tmp_path,
        AFTERCARE_WEBHOOKS_ALLOW_HTTP="1",
        AFTERCARE_WEBHOOKS_ALLOW_PRIVATE="1",
        AFTERCARE_WEBHOOKS_PORTS=str(receiver.port),
    )
    cluster = Cluster(env, tmp_path / "logs")
    kick = "from aftercare.webhooks.tasks import deliver_webhooks; deliver_webhooks()"

    def states() -> dict[str, int]:
        counts: dict[str, int] = {}
        for state in Delivery.objects.values_list("state", flat=True):
            counts[state] = counts.get(state, 0) + 1
        return counts

    try:
        doomed = cluster.consumer(
            "doomed", env={**env, "AFTERCARE_FAULTS": "webhooks.after_claim=2"}
        )
        cluster.python(kick)
        doomed.wait(timeout=60)
        assert doomed.returncode == -signal.SIGKILL, cluster.logs()
        assert states() == {"delivered": 1, "sending": 1, "queued": 2}
        cluster.consumer("healthy")
        cluster.python(kick)
        _wait(lambda: states() == {"delivered": 3, "sending": 1}, what="three deliveries")
        Delivery.objects.filter(state="sending").update(
            claimed_at=timezone.now() - timedelta(minutes=16)
        )
        cluster.python(kick)
        _wait(lambda: states() == {"delivered": 4}, what="all four deliveries")
    finally:
        cluster.stop()
        receiver.stop()
    posted = sorted(r.headers["X-Aftercare-Delivery"] for r in receiver.requests)
    assert posted == sorted(str(u) for u in Delivery.objects.values_list("uuid", flat=True))


FILE_ONE = """
from django_scopes import scopes_disabled
from aftercare.accounts.models import User
from aftercare.desk import services
from aftercare.tenancy.models import Organisation
with scopes_disabled():
    owner = User.objects.get(username="owner")
    org = Organisation.objects.get(code="alpha")
    services.open_ticket(actor=owner, organisation=org, subject="Crash {n}",
                         description="Filed by a process that dies after its commit.",
                         category="incident")
"""
EXPAND = "from aftercare.desk.tasks import expand_followups; expand_followups()"


@pytest.mark.django_db(transaction=True)
def test_a_process_killed_after_its_commit_still_tells_everyone_exactly_once(owner, org, tmp_path):
    """The web process dies right after committing a request (before it could enqueue the
    follow-ups); then a worker dies after telling everyone but before its own commit. The
    next worker tells everyone, once."""
    from aftercare.desk.models import Followup
    from aftercare.search.models import SearchDocument

    env = base_env(database_url=database_url(), data_dir=tmp_path, AFTERCARE_FOLLOWUPS="worker")
    cluster = Cluster(env, tmp_path / "logs")
    doomed_env = {**env, "AFTERCARE_FAULTS": "desk.followups.after_commit=1"}
    for n in range(3):
        with pytest.raises(RuntimeError):  # SIGKILL: the script "fails"
            Cluster(doomed_env, tmp_path / "logs").python(FILE_ONE.format(n=n))
    tickets = list(Ticket.objects.filter(subject__startswith="Crash "))
    assert len(tickets) == 3  # committed
    assert Followup.objects.count() == 3
    assert not OutboundMail.objects.filter(kind="received").exists()
    try:
        doomed = cluster.consumer(
            "doomed", env={**env, "AFTERCARE_FAULTS": "desk.followups.expanded=2"}
        )
        cluster.python(EXPAND)
        doomed.wait(timeout=60)
        assert doomed.returncode == -signal.SIGKILL, cluster.logs()
        # The first change was told and committed; the second died with its transaction.
        assert Followup.objects.count() == 2
        assert OutboundMail.objects.filter(kind="received").count() == 1

        cluster.consumer("healthy")
        cluster.python(EXPAND)
        _wait(lambda: not Followup.objects.exists(), what="the follow-ups expanded")
    finally:
        cluster.stop()
    receipts = sorted(
        OutboundMail.objects.filter(kind="received").values_list("ticket__subject", flat=True)
    )
    assert receipts == ["Crash 0", "Crash 1", "Crash 2"]
    assert (
        SearchDocument.objects.filter(ticket__in=tickets).values("ticket").distinct().count() == 3
    )


# -- the database goes away -----------------------------------------------------------------


class TcpProxy:
    """127.0.0.1:port → upstream; ``stop()`` cuts every connection, ``start()`` re-opens."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _addr = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not,
            # and that thread would go on accepting connections.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def _session_for(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_while_the_database_is_away_requests_get_503_and_the_app_recovers(
    owner, org, ticket, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")
    from aftercare.api.tokens import issue

    _token, secret = issue(user=owner, name="fault test")
    params = connection.settings_dict
    proxy = TcpProxy((params["HOST"] or "127.0.0.1", int(params["PORT"] or 5432)))
    proxy.start()
    url = "postgres://{USER}@127.0.0.1:{port}/{NAME}".format(port=proxy.port, **params)
    env = base_env(database_url=url, data_dir=tmp_path, DB_CONN_MAX_AGE="600")
    cluster = Cluster(env, tmp_path / "logs")
    page = Http(0)
    page.cookies["sessionid"] = _session_for(owner)
    api = Http(0, token=secret)
    try:
        port = free_port()
        cluster.web(port, workers=2)
        page.port = api.port = port
        detail = f"/portal/requests/{ticket.number}/"

        def statuses() -> list[int]:
            return [page.request("GET", detail)[0] for _ in range(4)] + [
                api.request("GET", "/api/v1/tickets")[0] for _ in range(4)
            ]

        assert statuses() == [200] * 8, cluster.logs()

        proxy.stop()
        status, headers, body = page.request("GET", detail)
        assert status == 503, (body[:2000], cluster.logs())
        assert headers["retry-after"] == "30"
        assert b"Briefly unavailable" in body
        status, headers, body = api.request("GET", "/api/v1/tickets")
        assert status == 503
        assert headers["retry-after"] == "30"
        assert headers["content-type"].startswith("application/json")
        assert b'"code": "database_unavailable"' in body
        # A write while the database is away is refused the same way, and stores nothing.
        status, _h, _b = api.request(
            "POST",
            f"/api/v1/tickets/{ticket.number}/comments",
            json_body={"body": "lost?"},
        )
        assert status == 503

        proxy.start()  # the database is back; the app was not restarted
        assert statuses() == [200] * 8, cluster.logs()
        status, _h, _b = api.request(
            "POST",
            f"/api/v1/tickets/{ticket.number}/comments",
            json_body={"body": "after the outage"},
        )
        assert status == 201
    finally:
        cluster.stop()
        proxy.stop()
    bodies = list(Message.objects.filter(ticket=ticket).values_list("body", flat=True))
    assert "after the outage" in bodies and "lost?" not in bodies


def test_a_database_error_in_a_middleware_is_a_503_too(rf, settings):
    """handler500 covers errors raised before the view (e.g. loading the session)."""
    from django.db import OperationalError

    from aftercare.lib.database import server_error

    request = rf.get("/portal/", HTTP_ACCEPT="text/html")
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 503 and response["Retry-After"] == "30"
    request = rf.get("/api/v1/tickets")
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 503 and b"database_unavailable" in response.content
    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(rf.get("/portal/"))
    assert response.status_code == 500


# -- the attachment storage is full ---------------------------------------------------------


class FullDiskStorage(FileSystemStorage):
    """Writes files normally, except ``.log`` files: the disk is full by then.

    (Stored names are random; only the extension survives from the uploaded name.)
    """

    def _save(self, name, content):
        if Path(name).suffix == ".log":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)
        return super()._save(name, content)


@pytest.fixture
def full_disk(settings, tmp_path):
    media = tmp_path / "media"
    media.mkdir(exist_ok=True)
    settings.MEDIA_ROOT = media
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "test_faults.FullDiskStorage"},
    }
    return media


def _files(media: Path) -> list[str]:
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


def _upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"log line\n" * 10, content_type="text/plain")


@pytest.mark.django_db
def test_a_full_disk_fails_a_new_portal_request_cleanly(client_for, owner, org, full_disk):
    client = client_for(owner)
    before = Ticket.objects.count()
    response = client.post(
        reverse("portal:new"),
        {
            "organisation": org.pk,
            "subject": "Printer on fire",
            "description": "Smoke everywhere",
            "category": "incident",
            "priority": Priority.NORMAL,
            "conditions": "",
            "system": "",
            "files": [_upload("ok.txt"), _upload("full.log")],
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "could not be stored" in page
    assert "Printer on fire" in page and "Smoke everywhere" in page  # the form is kept
    assert Ticket.objects.count() == before
    assert not Message.objects.exists() and not Attachment.objects.exists()
    assert not Event.objects.exists()
    assert _files(full_disk) == []  # ok.txt was written first, and removed again


@pytest.mark.django_db
def test_a_full_disk_fails_a_reply_cleanly(client_for, owner, ticket, full_disk):
    client = client_for(owner)
    messages_before = Message.objects.filter(ticket=ticket).count()
    version = Ticket.objects.get(pk=ticket.pk).version
    response = client.post(
        reverse("portal:detail", args=[ticket.number]),
        {"action": "reply", "body": "Here is the log", "files": [_upload("full.log")]},
    )
    assert response.status_code == 400
    assert "could not be stored" in response.content.decode()
    assert "Here is the log" in response.content.decode()
    assert Message.objects.filter(ticket=ticket).count() == messages_before
    assert not Attachment.objects.exists()
    assert Ticket.objects.get(pk=ticket.pk).version == version
    assert _files(full_disk) == []


@pytest.mark.django_db
def test_a_full_disk_is_a_422_in_the_api(client_for, owner, ticket, full_disk):
    from aftercare.api.tokens import issue

    _token, secret = issue(user=owner, name="t")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = client.post(
        f"/api/v1/tickets/{ticket.number}/attachments", {"files": [_upload("full.log")]}
    )
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "validation_error"
    assert not Attachment.objects.exists()
    assert _files(full_disk) == []


@pytest.mark.django_db
def test_files_written_before_a_later_failure_are_removed(owner, org, full_disk, monkeypatch):
    """The attachment is stored, then something else in the transaction fails."""

    def broken_event(*args, **kwargs):
        raise RuntimeError("the audit trail failed")

    monkeypatch.setattr(services, "_event", broken_event)
    with pytest.raises(RuntimeError):
        services.open_ticket(
            actor=owner,
            organisation=org,
            subject="x",
            description="y",
            category="incident",
            attachments=[_upload("fine.txt")],
        )
    assert not Ticket.objects.exists() and not Attachment.objects.exists()
    assert _files(full_disk) == []


# -- two agents edit the same request -------------------------------------------------------


@pytest.mark.django_db
def test_two_agents_saving_the_same_version_the_second_is_told_not_overwritten(
    client_for, ticket, consultant, manager
):
    """Console forms; the API's 409 is in aftercare/api/tests/test_tickets.py."""
    first, second = client_for(consultant), client_for(manager)
    url = reverse("console:ticket", args=[ticket.number])
    assert first.get(url).status_code == 200 and second.get(url).status_code == 200
    version = Ticket.objects.get(pk=ticket.pk).version  # what both pages carry
    response = first.post(
        url, {"action": "priority", "priority": 1, "reason": "Outage", "version": version}
    )
    assert response.status_code == 302
    response = second.post(
        url, {"action": "priority", "priority": 4, "reason": "Minor", "version": version}
    )
    assert response.status_code == 400
    assert "changed by someone else" in response.content.decode()
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.priority, fresh.priority_reason) == (1, "Outage")
    assert fresh.version == version + 1
