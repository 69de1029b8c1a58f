"""Two app servers and two Huey consumers on one PostgreSQL and one Redis work as one.

Concurrent portal and API creations and replies are fired at both gunicorn processes;
two ``run_huey`` consumers (one with the periodic scheduler, one without, as
deploy/README.md prescribes) drain the queue. Then: request numbers are unique and
gapless, every notification reached the SMTP sink exactly once, every webhook reached
its receiver exactly once, and no job was lost (nothing left queued).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cluster import Cluster, Http, base_env, flush_huey, free_port, redis_available
from django.db import connection
from django.test import Client

from aftercare.accounts.roles import Role
from aftercare.api.tokens import issue
from aftercare.desk.models import Message, Ticket
from aftercare.mail.models import OutboundMail
from aftercare.tenancy.tests.factories import customer
from aftercare.webhooks.models import Delivery, EventName, Subscription
from conftest import database_url, require_service

REDIS = "redis://127.0.0.1:6379/13"
CREATES = 24  # half through the API, half through the portal form
REPLIES = 24  # half agents' API comments, half customers' portal replies


class Receiver(BaseHTTPRequestHandler):
    deliveries: list[str] = []
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            self.deliveries.append(self.headers["X-Aftercare-Delivery"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def _session(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _wait(predicate, timeout: float, what: str, logs) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n{logs()}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_app_servers_and_two_consumers_lose_and_double_nothing(
    org, operator, smtp_sink, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")
    if missing := redis_available(REDIS):
        require_service("Redis", missing)
    people = [
        customer(org, role=Role.COORDINATOR if i == 0 else Role.CUSTOMER, username=f"cust{i}")
        for i in range(4)
    ]
    hook = ThreadingHTTPServer(("127.0.0.1", free_port()), Receiver)
    Receiver.deliveries = []
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    Subscription.objects.create(
        name="receiver",
        target_url=f"http://127.0.0.1:{hook.server_address[1]}/hook",
        events=[EventName.TICKET_CREATED, EventName.COMMENT_CREATED],
    )
    api_tokens = [issue(user=p, name="scale")[1] for p in people[:2]]
    agent_token = issue(user=operator, name="scale")[1]
    sessions = [_session(p) for p in people[2:]]

    env = base_env(
        database_url=database_url(),
        data_dir=tmp_path,
        redis_url=REDIS,
        smtp_port=smtp_sink.port,
        AFTERCARE_WEBHOOKS_ALLOW_HTTP="1",
        AFTERCARE_WEBHOOKS_ALLOW_PRIVATE="1",
        AFTERCARE_WEBHOOKS_PORTS=f"80,443,{hook.server_address[1]}",
    )
    cluster = Cluster(env, tmp_path / "logs")
    ports = [free_port(), free_port()]
    try:
        for port in ports:
            cluster.web(port, workers=2)
        cluster.consumer("consumer-scheduler", periodic=True)
        cluster.consumer("consumer-2", periodic=False)

        def create(i: int) -> str:
            port = ports[i % 2]
            if i % 2 == 0:
                client = Http(port, token=api_tokens[i % 4 // 2])
                status, _h, body = client.request(
                    "POST",
                    "/api/v1/tickets",
                    json_body={
                        "organisation": org.pk,
                        "subject": f"API request {i}",
                        "description": "Concurrent creation",
                        "category": "incident",
                    },
                )
                assert status == 201, body[:500]
                return json.loads(body)["number"]
            client = Http(port)
            client.cookies["sessionid"] = sessions[i % 4 // 2]
            token = client.csrf_from("/portal/new/")
            status, headers, body = client.request(
                "POST",
                "/portal/new/",
                form={
                    "csrfmiddlewaretoken": token,
                    "organisation": org.pk,
                    "subject": f"Portal request {i}",
                    "description": "Concurrent creation",
                    "category": "incident",
                    "priority": 3,
                    "conditions": "",
                    "system": "",
                },
            )
            assert status == 302, body[:2000]
            return headers["location"].rstrip("/").rsplit("/", 1)[-1]

        with ThreadPoolExecutor(max_workers=8) as pool:
            numbers = list(pool.map(create, range(CREATES)))
        reporters = dict(Ticket.objects.values_list("number", "reporter__username"))

        def answer(i: int) -> None:
            number = numbers[i % len(numbers)]
            port = ports[(i + 1) % 2]
            if i % 2 == 0:
                status, _h, body = Http(port, token=agent_token).request(
                    "POST",
                    f"/api/v1/tickets/{number}/comments",
                    json_body={"body": f"Agent answer {i}"},
                )
                assert status == 201, body[:500]
                return
            reporter = reporters[number]
            # The reporter answers on the portal (portal-filed requests) or the API.
            if reporter in ("cust2", "cust3"):
                client = Http(port)
                client.cookies["sessionid"] = sessions[int(reporter[-1]) - 2]
                path = f"/portal/requests/{number}/"
                token = client.csrf_from(path)
                status, _h, body = client.request(
                    "POST",
                    path,
                    form={"csrfmiddlewaretoken": token, "action": "reply", "body": f"Thanks {i}"},
                )
                assert status == 302, body[:2000]
            else:
                status, _h, body = Http(port, token=api_tokens[int(reporter[-1])]).request(
                    "POST",
                    f"/api/v1/tickets/{number}/comments",
                    json_body={"body": f"Thanks {i}"},
                )
                assert status == 201, body[:500]

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(answer, range(REPLIES)))

        def drained() -> bool:
            busy = OutboundMail.objects.filter(state__in=["queued", "sending"]).exists()
            pending = Delivery.objects.exclude(state=Delivery.State.DELIVERED).exists()
            return not busy and not pending

        _wait(drained, 60, "the consumers to drain the queue", cluster.logs)
        pending_jobs = cluster.python(
            "from django.conf import settings; print(settings.HUEY.pending_count())"
        )
        _wait(
            lambda: len(smtp_sink.received) >= OutboundMail.objects.filter(state="sent").count(),
            10,
            "the SMTP sink",
            cluster.logs,
        )
        time.sleep(1)  # a duplicate would arrive now
    finally:
        cluster.stop()
        hook.shutdown()
        hook.server_close()
        flush_huey(REDIS, env["AFTERCARE_HUEY_NAME"])

    # Numbers: unique and gapless.
    all_numbers = list(Ticket.objects.values_list("number", flat=True))
    assert sorted(all_numbers) == sorted(numbers) and len(set(numbers)) == CREATES
    sequence = sorted(int(re.search(r"(\d+)$", n).group(1)) for n in all_numbers)
    assert sequence == list(range(1, CREATES + 1))
    assert Message.objects.count() == CREATES + REPLIES

    # Notifications: every row sent, each Message-ID received exactly once.
    mails = OutboundMail.objects.all()
    assert mails.count() >= CREATES  # at least a receipt or an answer per request
    assert set(mails.values_list("state", flat=True)) <= {"sent", "suppressed"}
    sent_ids = Counter(mails.filter(state="sent").values_list("message_id", flat=True))
    received = Counter(r.message["Message-ID"] for r in smtp_sink.received)
    assert received == sent_ids, (received - sent_ids, sent_ids - received)
    assert max(received.values()) == 1

    # Webhooks: one per creation and per public comment, each received exactly once.
    deliveries = list(Delivery.objects.values_list("uuid", flat=True))
    assert len(deliveries) == CREATES + REPLIES
    assert Counter(Receiver.deliveries) == Counter(str(u) for u in deliveries)

    # Jobs: nothing left in the queue.
    assert pending_jobs.strip() == "0"
