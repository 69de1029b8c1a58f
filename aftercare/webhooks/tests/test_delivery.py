"""Delivering to a real receiver on 127.0.0.1: signatures, retries, timeouts, SSRF, races."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from aftercare.desk import services
from aftercare.desk.tests.factories import ticket_for
from aftercare.webhooks import delivery, events
from aftercare.webhooks.delivery import deliver_due
from aftercare.webhooks.models import Delivery, Subscription
from aftercare.webhooks.tests.conftest import subscribe
from aftercare.webhooks.tests.receiver import Answer

pytestmark = pytest.mark.django_db


# The receiver's check, exactly as docs/webhooks.md shows it.
def verify(secret: str, headers, body: bytes, tolerance: int = 300) -> bool:
    timestamp = headers.get("X-Aftercare-Timestamp", "")
    signature = headers.get("X-Aftercare-Signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False  # missing, or too old: possibly a replayed request
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(signature, "sha256=" + expected)


def row(**filters) -> Delivery:
    return Delivery.objects.filter(**filters).order_by("pk").last()


def make_due(*rows: Delivery) -> None:
    """Skip the back-off wait (the tests check that it was scheduled)."""
    Delivery.objects.filter(pk__in=[r.pk for r in rows]).update(next_attempt_at=timezone.now())


def test_deliveries_arrive_signed_and_verifiable(receiver, owner, org, consultant):
    hook = subscribe(receiver.url(), organisation=org)
    ticket = ticket_for(owner, org)
    services.reply(ticket=ticket, actor=consultant, body="Fixed.")
    assert deliver_due() == {"delivered": 2, "retry": 0, "failed": 0}
    got = receiver.wait_for(2)
    assert [r.path for r in got] == ["/hook", "/hook"]
    rows = list(Delivery.objects.order_by("pk"))
    for request, stored in zip(got, rows, strict=True):
        assert verify(hook.secret, request.headers, request.body)
        assert not verify("whsec_wrong", request.headers, request.body)
        assert not verify(hook.secret, request.headers, request.body + b" ")
        assert request.body == stored.payload.encode()
        body = json.loads(request.body)
        assert request.headers["X-Aftercare-Event"] == body["event"] == stored.event
        assert request.headers["X-Aftercare-Delivery"] == body["id"] == str(stored.uuid)
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"].startswith("Aftercare-Webhooks/")
        assert request.headers["X-Aftercare-Signature"].startswith("sha256=")
    assert [json.loads(r.body)["event"] for r in got] == ["ticket.created", "comment.created"]
    assert json.loads(got[1].body)["comment"]["body"] == "Fixed."
    for stored in Delivery.objects.all():
        assert stored.state == "delivered" and stored.attempts == 1
        assert stored.last_status_code == 200 and stored.response_excerpt == "ok"
        assert stored.delivered_at and stored.duration_ms is not None
    assert deliver_due()["delivered"] == 0  # nothing twice
    assert len(receiver.requests) == 2


def test_a_replayed_old_request_fails_the_documented_check(receiver, owner, org):
    hook = subscribe(receiver.url())
    ticket_for(owner, org)
    deliver_due()
    request = receiver.wait_for(1)[0]
    old = dict(request.headers)
    old["X-Aftercare-Timestamp"] = str(int(old["X-Aftercare-Timestamp"]) - 3600)
    old["X-Aftercare-Signature"] = "sha256=" + delivery.signature(
        hook.secret, old["X-Aftercare-Timestamp"], request.body
    )
    assert not verify(hook.secret, old, request.body)


def test_the_commit_kicks_the_worker(receiver, owner, org, django_capture_on_commit_callbacks):
    subscribe(receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        ticket_for(owner, org)
    # Huey runs inline in tests: the delivery went out when the change committed.
    assert len(receiver.wait_for(1)) == 1
    assert row().state == "delivered"


def test_a_failing_receiver_is_retried_with_back_off_until_it_recovers(
    receiver, owner, org, settings
):
    settings.AFTERCARE_WEBHOOKS_ATTEMPTS = 5
    receiver.answer(Answer(500, body=b"database down"), Answer(503), Answer(502))
    subscribe(receiver.url())
    ticket_for(owner, org)
    waits = []
    for attempt in (1, 2, 3):
        before = timezone.now()
        assert deliver_due()["retry"] == 1
        stored = row()
        assert stored.state == "queued" and stored.attempts == attempt
        waits.append(round((stored.next_attempt_at - before).total_seconds() / 60))
        assert deliver_due()["retry"] == 0  # not due yet: nothing is sent early
        make_due(stored)
    assert waits == [1, 2, 4]
    assert "HTTP 502" in stored.error and stored.last_status_code == 502
    assert deliver_due()["delivered"] == 1
    stored = row()
    assert stored.state == "delivered" and stored.attempts == 4 and stored.error == ""
    got = receiver.requests
    assert len(got) == 4
    # Every attempt is the same delivery: same id and body, freshly signed.
    assert len({r.headers["X-Aftercare-Delivery"] for r in got}) == 1
    assert len({r.body for r in got}) == 1


def test_back_off_is_capped(receiver, owner, org, settings):
    settings.AFTERCARE_WEBHOOKS_ATTEMPTS = 10
    settings.AFTERCARE_WEBHOOKS_MAX_BACKOFF_MINUTES = 5
    receiver.answer(*[Answer(500)] * 6)
    subscribe(receiver.url())
    ticket_for(owner, org)
    waits = []
    for _ in range(6):
        before = timezone.now()
        deliver_due()
        stored = row()
        waits.append(round((stored.next_attempt_at - before).total_seconds() / 60))
        make_due(stored)
    assert waits == [1, 2, 4, 5, 5, 5]


def test_after_the_last_attempt_the_delivery_fails_and_can_be_retried(
    receiver, owner, org, settings
):
    settings.AFTERCARE_WEBHOOKS_ATTEMPTS = 2
    receiver.answer(Answer(500), Answer(500))
    hook = subscribe(receiver.url())
    ticket_for(owner, org)
    deliver_due()
    make_due(row())
    assert deliver_due()["failed"] == 1
    stored = row()
    assert stored.state == "failed" and stored.attempts == 2
    hook.refresh_from_db()
    assert hook.failure_count == 1 and hook.active
    assert delivery.retry([stored]) == 1
    assert deliver_due()["delivered"] == 1
    hook.refresh_from_db()
    assert hook.failure_count == 0  # a success ends the run of failures


def test_repeated_failed_deliveries_disable_the_subscription(
    receiver, owner, org, consultant, settings, caplog
):
    settings.AFTERCARE_WEBHOOKS_ATTEMPTS = 1
    settings.AFTERCARE_WEBHOOKS_DISABLE_AFTER = 3
    receiver.answer(*[Answer(500)] * 10)
    hook = subscribe(receiver.url())
    ticket = ticket_for(owner, org)
    for i in range(3):
        services.reply(ticket=ticket, actor=consultant, body=f"reply {i}")
    assert deliver_due() == {"delivered": 0, "retry": 0, "failed": 3}
    hook.refresh_from_db()
    assert not hook.active and hook.disabled_at is not None
    assert "3 consecutive failed deliveries" in hook.disabled_reason
    assert "HTTP 500" in hook.disabled_reason
    assert "disabled after 3 consecutive failed deliveries" in caplog.text
    # Another delivery was queued: held while disabled, not sent.
    assert Delivery.objects.filter(state="queued").count() == 1
    assert deliver_due() == {"delivered": 0, "retry": 0, "failed": 0}
    assert len(receiver.requests) == 3
    # Re-enabled, the waiting delivery goes out.
    receiver.script.clear()
    assert delivery.re_enable(hook)
    assert deliver_due()["delivered"] == 1
    hook.refresh_from_db()
    assert hook.active and hook.failure_count == 0 and hook.disabled_reason == ""


def test_a_slow_receiver_times_out_and_is_retried(receiver, owner, org, settings):
    settings.AFTERCARE_WEBHOOKS_TIMEOUT = 0.5
    receiver.answer(Answer(200, delay=10))
    subscribe(receiver.url())
    ticket_for(owner, org)
    started = time.monotonic()
    assert deliver_due()["retry"] == 1
    assert time.monotonic() - started < 3
    stored = row()
    assert stored.state == "queued" and "Timed out" in stored.error
    assert stored.last_status_code is None


def test_a_receiver_dripping_its_answer_is_cut_off(receiver, owner, org, settings):
    # Each byte arrives within the read timeout; the watchdog ends the whole exchange.
    settings.AFTERCARE_WEBHOOKS_TIMEOUT = 0.5
    receiver.answer(Answer(200, drip="headers"))
    subscribe(receiver.url())
    ticket_for(owner, org)
    started = time.monotonic()
    assert deliver_due()["retry"] == 1
    assert time.monotonic() - started < 4
    assert "Timed out" in row().error


def test_a_2xx_status_counts_even_if_the_body_never_ends(receiver, owner, org, settings):
    settings.AFTERCARE_WEBHOOKS_TIMEOUT = 0.5
    receiver.answer(Answer(202, drip="body"))
    subscribe(receiver.url())
    ticket_for(owner, org)
    started = time.monotonic()
    assert deliver_due()["delivered"] == 1
    assert time.monotonic() - started < 4
    stored = row()
    assert stored.last_status_code == 202 and "cut off after 1.0 s" in stored.response_excerpt


def test_redirects_are_not_followed(receiver, owner, org):
    receiver.answer(Answer(302, headers={"Location": receiver.url("/elsewhere")}))
    subscribe(receiver.url())
    ticket_for(owner, org)
    assert deliver_due()["retry"] == 1
    assert [r.path for r in receiver.requests] == ["/hook"]
    stored = row()
    assert stored.last_status_code == 302
    assert "/elsewhere not followed" in stored.error


def test_an_unreachable_receiver_is_retried(settings, owner, org):
    from aftercare.mail.tests.servers import free_port

    settings.AFTERCARE_WEBHOOKS_ALLOW_PRIVATE = True
    settings.AFTERCARE_WEBHOOKS_ALLOW_HTTP = True
    port = free_port()
    settings.AFTERCARE_WEBHOOKS_PORTS = [port]
    subscribe(f"http://127.0.0.1:{port}/hook")
    ticket_for(owner, org)
    assert deliver_due()["retry"] == 1
    assert "ConnectionRefused" in row().error


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    receiver, dns, owner, org
):
    dns.table["hooks.example.test"] = ["127.0.0.1"]
    subscribe(receiver.url(host="hooks.example.test"))
    ticket_for(owner, org)
    assert deliver_due()["delivered"] == 1
    assert receiver.requests[0].headers["Host"] == f"hooks.example.test:{receiver.port}"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook",
        "http://10.0.0.1:{port}/hook",
        "http://169.254.169.254:{port}/latest/meta-data/",
        "http://[::1]:{port}/hook",
        "http://localhost:{port}/hook",
    ],
)
def test_internal_targets_are_refused_at_delivery_too(receiver, owner, org, settings, url):
    """A subscription that was saved when it was allowed (or written around the admin)."""
    hook = subscribe(url.format(port=receiver.port))
    settings.AFTERCARE_WEBHOOKS_ALLOW_PRIVATE = False
    ticket_for(owner, org)
    assert deliver_due()["failed"] == 1
    stored = row()
    assert stored.state == "failed" and stored.error.startswith("Refused:")
    assert "public internet" in stored.error
    assert receiver.requests == []
    hook.refresh_from_db()
    assert hook.failure_count == 1


def test_dns_rebinding_is_refused_at_delivery(receiver, dns, owner, org, settings):
    settings.AFTERCARE_WEBHOOKS_ALLOW_PRIVATE = False
    url = receiver.url(host="rebind.example.test")
    # At save time the name answers with a public address: accepted.
    dns.table["rebind.example.test"] = ["93.184.215.14"]
    hook = Subscription(name="rebind", target_url=url, events=["ticket.created"])
    hook.full_clean()
    hook.save()
    # Then it answers with the receiver's loopback address.
    dns.table["rebind.example.test"] = ["127.0.0.1"]
    ticket_for(owner, org)
    assert deliver_due()["failed"] == 1
    stored = row()
    assert "rebind.example.test resolves to 127.0.0.1, a loopback address" in stored.error
    assert receiver.requests == []  # nothing reached the internal address
    # Control: the same address is reachable, so the refusal is what stopped it.
    settings.AFTERCARE_WEBHOOKS_ALLOW_PRIVATE = True
    delivery.retry([stored])
    assert deliver_due()["delivered"] == 1


def test_a_name_that_does_not_resolve_is_retried(receiver, dns, owner, org):
    subscribe(receiver.url(host="gone.example.test"))
    ticket_for(owner, org)
    assert deliver_due()["retry"] == 1
    assert "does not resolve" in row().error


def test_a_ping_reaches_the_receiver(receiver, org):
    hook = subscribe(receiver.url(), organisation=org, name="ops")
    events.ping(hook)
    assert deliver_due()["delivered"] == 1
    request = receiver.requests[0]
    assert request.headers["X-Aftercare-Event"] == "ping"
    assert json.loads(request.body)["subscription"]["name"] == "ops"
    assert verify(hook.secret, request.headers, request.body)


def test_old_finished_deliveries_are_forgotten(receiver, owner, org, settings):
    settings.AFTERCARE_WEBHOOKS_KEEP_DAYS = 30
    subscribe(receiver.url())
    ticket_for(owner, org)
    ticket_for(owner, org)
    deliver_due()
    old, recent = Delivery.objects.order_by("pk")
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert delivery.purge() == 1
    assert list(Delivery.objects.all()) == [recent]


@pytest.fixture
def tls_files(tmp_path):
    """A self-signed certificate for hooks.example.test (Debian's openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=hooks.example.test",
            "-addext", "subjectAltName=DNS:hooks.example.test",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_https_checks_the_certificate_of_the_name_while_connecting_to_the_address(
    receiver, dns, tls_files, owner, org, monkeypatch
):
    import ssl

    cert, key = tls_files
    receiver.use_tls(str(cert), str(key))
    monkeypatch.setattr(
        delivery, "_ssl_context", lambda: ssl.create_default_context(cafile=str(cert))
    )
    dns.table["hooks.example.test"] = ["127.0.0.1"]
    dns.table["other.example.test"] = ["127.0.0.1"]
    good = subscribe(receiver.url(host="hooks.example.test"), name="good")
    bad = subscribe(receiver.url(host="other.example.test"), name="bad")
    ticket_for(owner, org)
    assert deliver_due() == {"delivered": 1, "retry": 1, "failed": 0}
    assert row(subscription=good).state == "delivered"
    assert "CERTIFICATE_VERIFY_FAILED" in row(subscription=bad).error
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_at_once_deliver_each_row_once(receiver, owner, org, monkeypatch):
    if connection.vendor == "sqlite":
        pytest.skip("needs concurrent writers: PostgreSQL (the SQLite case is serialised)")
    monkeypatch.setattr(events, "kick", lambda: None)  # leave the delivering to the workers
    subscribe(receiver.url())
    for i in range(20):
        ticket_for(owner, org, subject=f"request {i}")
    barrier = threading.Barrier(2)
    results = []

    def worker():
        from django.db import connection as conn

        barrier.wait()
        try:
            results.append(deliver_due())
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["delivered"] for r in results) == 20
    ids = [r.headers["X-Aftercare-Delivery"] for r in receiver.wait_for(20)]
    assert len(ids) == len(set(ids)) == 20
    assert Delivery.objects.filter(state="delivered", attempts=1).count() == 20
