"""Soak: N minutes of mixed traffic on PostgreSQL, two app servers, two Huey consumers.

    .venv/bin/python bench/soak.py --minutes 10          # what the lead runs
    .venv/bin/python bench/soak.py --minutes 2 --clients 4

Set-up (not timed): a fresh PostgreSQL database (``--database-url``, its name must
contain "bench"; dropped and re-created), ``migrate``, 3 customer organisations with 4
people each, an operator; API tokens and signed-in sessions for them. Then two
``gunicorn`` processes (2 sync workers each) on two loopback ports and two ``run_huey``
consumers (one runs the periodic scheduler, one ``--no-periodic``, as in
deploy/README.md) on one Redis queue (``--redis-url``, a unique queue name per run),
and an aiosmtpd sink that receives every notification.

Traffic, for ``--minutes``, from ``--clients`` threads alternating between both servers:
portal pages (list, request page), console pages (queue, request page), API reads,
API writes (create a request, comment on one) with bearer tokens; and one mail thread
that every few seconds pipes a batch of new messages (and one already-sent message
again, which must be recognised as a duplicate) into ``manage.py ingest_mail`` as an
MTA would. Every write carries a unique marker.

At the end the consumers drain the queue and the run is checked: errors (any answer
other than the expected status, any exception) must be 0; each API write made exactly
one row; each mailed Message-ID exactly one InboundMessage and one request; every
notification was sent and received by the sink exactly once. Prints a table of
count/errors/p50/p95/max per route and writes it with the checks as JSON (``--out``).
Exit status 1 if any check failed. Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from cluster import Cluster, Http, base_env, flush_huey, free_port, redis_available  # noqa: E402

SEED = r"""
import json
from django.test import Client
from django_scopes import scopes_disabled
from django.contrib.auth.models import Group
from aftercare.accounts.models import User
from aftercare.accounts.roles import GROUP_NAMES, Role
from aftercare.api.tokens import issue
from aftercare.tenancy.models import Membership, Organisation

out = {"orgs": [], "customers": [], "agents": []}
with scopes_disabled():
    for o in range(3):
        org = Organisation.objects.create(name=f"Soak customer {o}", code=f"soak{o}")
        out["orgs"].append(org.pk)
        for p in range(4):
            user = User.objects.create_user(
                username=f"soak{o}p{p}", email=f"p{p}@soak{o}.example", password="x-soak-x-123"
            )
            Membership.objects.create(
                user=user, organisation=org, role=Role.COORDINATOR if p == 0 else Role.CUSTOMER
            )
            c = Client()
            c.force_login(user)
            out["customers"].append({
                "org": org.pk, "email": user.email,
                "token": issue(user=user, name="soak")[1],
                "session": c.cookies["sessionid"].value,
            })
    for a in range(2):
        agent = User.objects.create_user(username=f"agent{a}", email=f"agent{a}@vendor.example")
        agent.groups.add(Group.objects.get(name=GROUP_NAMES[Role.OPERATOR]))
        c = Client()
        c.force_login(agent)
        out["agents"].append({
            "token": issue(user=agent, name="soak")[1], "session": c.cookies["sessionid"].value,
        })
print(json.dumps(out))
"""

CHECK = r"""
import json
from collections import Counter
from django_scopes import scopes_disabled
from aftercare.desk.models import Message, Ticket
from aftercare.mail.models import InboundMessage, OutboundMail

markers = json.loads(open(MARKERS).read())
with scopes_disabled():
    subjects = Counter(Ticket.objects.filter(subject__startswith="soak-").values_list("subject", flat=True))
    bodies = Counter(Message.objects.filter(body__startswith="soak-c-").values_list("body", flat=True))
    inbound = Counter(InboundMessage.objects.values_list("message_id", flat=True))
    mail_tickets = Counter(
        InboundMessage.objects.filter(ticket__isnull=False).values_list("message_id", flat=True)
    )
    out = {
        "api_creates_missing": [s for s in markers["creates"] if subjects[s] == 0],
        "api_creates_doubled": [s for s in markers["creates"] if subjects[s] > 1],
        "comments_missing": [b for b in markers["comments"] if bodies[b] == 0],
        "comments_doubled": [b for b in markers["comments"] if bodies[b] > 1],
        "mails_missing": [m for m in markers["mails"] if inbound[m.strip("<>")] == 0],
        "mails_doubled": [m for m in markers["mails"] if inbound[m.strip("<>")] > 1],
        "mails_without_request": [m for m in markers["mails"] if mail_tickets[m.strip("<>")] != 1],
        "outbound_states": dict(Counter(OutboundMail.objects.values_list("state", flat=True))),
        "sent_ids": list(OutboundMail.objects.filter(state="sent").values_list("message_id", flat=True)),
        "tickets": Ticket.objects.count(),
        "numbers_unique": Ticket.objects.values("number").distinct().count() == Ticket.objects.count(),
    }
print(json.dumps(out))
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/aftercare_bench_soak"
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    p.add_argument("--clients", type=int, default=6, help="HTTP client threads")
    p.add_argument("--mail-every", type=float, default=2.0, help="seconds between mail batches")
    p.add_argument("--mail-batch", type=int, default=4)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", default="/tmp/aftercare-soak.json", help="JSON result file")
    p.add_argument("--keep", action="store_true", help="keep the data directory and logs")
    return p.parse_args()


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, Counter] = defaultdict(Counter)
        self.markers: dict[str, list[str]] = {"creates": [], "comments": [], "mails": []}

    def record(self, route: str, ms: float, error: str = "") -> None:
        with self.lock:
            if error:
                self.errors[route][error] += 1
            else:
                self.samples[route].append(ms)

    def mark(self, kind: str, value: str) -> None:
        with self.lock:
            self.markers[kind].append(value)


def timed(rec: Recorder, route: str, expect: int, call) -> tuple[int, dict, bytes] | None:
    started = time.perf_counter()
    try:
        status, headers, body = call()
    except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
        rec.record(route, 0, type(exc).__name__)
        return None
    ms = (time.perf_counter() - started) * 1000
    if status != expect:
        rec.record(route, ms, f"HTTP {status}")
        return None
    rec.record(route, ms)
    return status, headers, body


def client_loop(n: int, ports, seed: dict, rec: Recorder, stop: threading.Event, numbers):
    rng = random.Random(n)
    custs, agents = seed["customers"], seed["agents"]
    while not stop.is_set():
        port = ports[rng.randrange(2)]
        cust = rng.choice(custs)
        agent = rng.choice(agents)
        op = rng.choices(
            [
                "portal_list",
                "portal_detail",
                "console_queue",
                "console_ticket",
                "api_list",
                "api_create",
                "api_comment",
            ],
            [3, 2, 2, 2, 2, 2, 2],
        )[0]
        with rec.lock:
            known = list(numbers.get(cust["org"], []))
        if op in ("portal_detail", "console_ticket", "api_comment") and not known:
            op = "api_create"
        if op == "portal_list":
            web = Http(port)
            web.cookies["sessionid"] = cust["session"]
            timed(rec, "GET /portal/", 200, lambda: web.request("GET", "/portal/"))
        elif op == "portal_detail":
            web = Http(port)
            # The organisation's coordinator sees every request of the organisation.
            web.cookies["sessionid"] = next(c for c in custs if c["org"] == cust["org"])["session"]
            number = rng.choice(known)
            timed(
                rec,
                "GET /portal/requests/N/",
                200,
                lambda: web.request("GET", f"/portal/requests/{number}/"),
            )
        elif op == "console_queue":
            web = Http(port)
            web.cookies["sessionid"] = agent["session"]
            timed(rec, "GET /console/", 200, lambda: web.request("GET", "/console/"))
        elif op == "console_ticket":
            web = Http(port)
            web.cookies["sessionid"] = agent["session"]
            number = rng.choice(known)
            timed(
                rec,
                "GET /console/tickets/N/",
                200,
                lambda: web.request("GET", f"/console/tickets/{number}/"),
            )
        elif op == "api_list":
            api = Http(port, token=agent["token"])
            timed(rec, "GET /api/v1/tickets", 200, lambda: api.request("GET", "/api/v1/tickets"))
        elif op == "api_create":
            api = Http(port, token=cust["token"])
            subject = f"soak-{uuid.uuid4().hex[:12]}"
            got = timed(
                rec,
                "POST /api/v1/tickets",
                201,
                lambda: api.request(
                    "POST",
                    "/api/v1/tickets",
                    json_body={
                        "organisation": cust["org"],
                        "subject": subject,
                        "description": "Soak traffic",
                        "category": "incident",
                    },
                ),
            )
            if got:
                rec.mark("creates", subject)
                with rec.lock:
                    numbers[cust["org"]].append(json.loads(got[2])["number"])
        else:
            api = Http(port, token=agent["token"])
            number = rng.choice(known)
            body = f"soak-c-{uuid.uuid4().hex[:12]}"
            got = timed(
                rec,
                "POST /api/v1/tickets/N/comments",
                201,
                lambda: api.request(
                    "POST", f"/api/v1/tickets/{number}/comments", json_body={"body": body}
                ),
            )
            if got:
                rec.mark("comments", body)


FEEDER = r"""
import json, sys
from aftercare.mail.ingest import ingest
from aftercare.tenancy.scoping import system_scope

for line in sys.stdin:
    with open(line.strip(), "rb") as f:
        raw = f.read()
    with system_scope():
        result = ingest(raw, source="soak")
    print(json.dumps({"created": result.created, "outcome": result.outcome}), flush=True)
"""


def _mail(rng: random.Random, seed: dict, label: str) -> EmailMessage:
    cust = rng.choice(seed["customers"])
    msg = EmailMessage()
    msg["From"] = cust["email"]
    msg["To"] = "support@vendor.example"
    msg["Subject"] = f"Mailed problem {label}"
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="soak.example")
    msg.set_content("Something is broken, please look.\n")
    return msg


def mail_loop(cluster: Cluster, seed: dict, rec: Recorder, stop: threading.Event, args, tmp):
    """The ingest service in a long-lived process (as the IMAP poller calls it), one
    message at a time; and every fifth batch through ``manage.py ingest_mail`` (the MTA
    pipe). Each batch also re-sends one earlier message, which must be a duplicate."""
    rng = random.Random(args.seed)
    with (tmp / "logs" / "feeder.log").open("ab") as log:
        feeder = subprocess.Popen(
            [sys.executable, "-c", "import django; django.setup()\n" + FEEDER],
            cwd=ROOT,
            env=cluster.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    sent: list[Path] = []
    batch_no = 0
    try:
        while not stop.wait(args.mail_every):
            batch_no += 1
            messages = [_mail(rng, seed, f"{batch_no}.{i}") for i in range(args.mail_batch)]
            paths = []
            for i, m in enumerate(messages):
                path = tmp / f"mail-{batch_no}-{i}.eml"
                path.write_bytes(m.as_bytes())
                paths.append(path)
            again = [rng.choice(sent)] if sent else []
            if batch_no % 5 == 0:
                mbox = tmp / f"batch-{batch_no}.mbox"
                with mbox.open("wb") as f:
                    for path in paths + again:
                        f.write(b"From soak@localhost Thu Jan  1 00:00:00 2026\n")
                        f.write(path.read_bytes().replace(b"\nFrom ", b"\n>From ") + b"\n")
                started = time.perf_counter()
                try:
                    cluster.manage("ingest_mail", str(mbox))
                except Exception as exc:  # noqa: BLE001
                    rec.record("ingest_mail (pipe, batch)", 0, type(exc).__name__)
                    continue
                rec.record("ingest_mail (pipe, batch)", (time.perf_counter() - started) * 1000)
            else:
                for path in paths + again:
                    started = time.perf_counter()
                    feeder.stdin.write(f"{path}\n")
                    feeder.stdin.flush()
                    answer = feeder.stdout.readline()
                    while answer and not answer.startswith("{"):  # stray output
                        answer = feeder.stdout.readline()
                    ms = (time.perf_counter() - started) * 1000
                    if not answer:
                        rec.record("ingest (service)", 0, "feeder died")
                        return
                    outcome = json.loads(answer)
                    duplicate = path in again
                    if outcome["created"] == duplicate:
                        rec.record("ingest (service)", ms, f"created={outcome['created']}")
                    else:
                        rec.record("ingest (service)", ms)
            for m in messages:
                rec.mark("mails", m["Message-ID"])
            sent += paths
    finally:
        feeder.stdin.close()
        feeder.wait(timeout=60)


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> int:
    args = parse_args()
    if missing := redis_available(args.redis_url):
        sys.exit(f"Redis unavailable: {missing}")
    os.environ["DATABASE_URL"] = args.database_url
    tmp = Path(tempfile.mkdtemp(prefix="aftercare-soak-"))
    os.environ["AFTERCARE_DATA_DIR"] = str(tmp)
    from aiosmtpd.controller import Controller
    from seed import make_fresh_database

    from aftercare.mail.tests.servers import SmtpSink

    label, after_migrate = make_fresh_database()
    smtp_port = free_port()
    sink = SmtpSink("127.0.0.1", smtp_port)
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    env = base_env(
        database_url=args.database_url,
        data_dir=tmp,
        redis_url=args.redis_url,
        smtp_port=smtp_port,
        SECRET_KEY="soak-secret-key-shared-by-every-process-0123456789",
        AFTERCARE_MAIL_SENDER_DAILY_CAP="100000",
        AFTERCARE_MAIL_AUTOREPLY_DAILY_CAP="100000",
        AFTERCARE_MAIL_OUTBOX_CRON="* * * * *",
    )
    cluster = Cluster(env, tmp / "logs")
    print(f"soak: {label}, {args.minutes} min, {args.clients} clients; logs in {tmp / 'logs'}")
    cluster.manage("migrate", "--noinput", timeout=600)
    after_migrate()  # keeps the migrated database as the next run's template
    seed = json.loads(cluster.python(SEED).strip().splitlines()[-1])
    rec = Recorder()
    numbers: dict[int, list[str]] = defaultdict(list)
    stop = threading.Event()
    ok = True
    try:
        ports = [free_port(), free_port()]
        for port in ports:
            cluster.web(port, workers=2)
        cluster.consumer("consumer-scheduler", periodic=True)
        cluster.consumer("consumer-2", periodic=False)
        threads = [
            threading.Thread(target=client_loop, args=(n, ports, seed, rec, stop, numbers))
            for n in range(args.clients)
        ]
        threads.append(
            threading.Thread(target=mail_loop, args=(cluster, seed, rec, stop, args, tmp))
        )
        started = time.monotonic()
        for t in threads:
            t.start()
        end = started + args.minutes * 60
        while time.monotonic() < end:
            time.sleep(min(15, max(0.1, end - time.monotonic())))
            done = sum(len(v) for v in rec.samples.values())
            errs = sum(sum(c.values()) for c in rec.errors.values())
            print(
                f"  {time.monotonic() - started:6.0f} s  {done} requests  {errs} errors", flush=True
            )
        stop.set()
        for t in threads:
            t.join(timeout=180)
        wall = time.monotonic() - started
        # Drain: the consumers send what is queued (kicks, then the minute sweep).
        markers = tmp / "markers.json"
        markers.write_text(json.dumps(rec.markers))
        deadline = time.monotonic() + 180
        while True:
            check = json.loads(cluster.python(f"MARKERS = {str(markers)!r}\n" + CHECK))
            busy = {k: v for k, v in check["outbound_states"].items() if k in ("queued", "sending")}
            if not busy or time.monotonic() > deadline:
                break
            time.sleep(2)
        time.sleep(2)
        received = Counter(r.message["Message-ID"] for r in sink.received)
        sent_ids = Counter(check.pop("sent_ids"))
    finally:
        stop.set()
        cluster.stop()
        smtp.stop()
        flush_huey(args.redis_url, env["AFTERCARE_HUEY_NAME"])

    rows = []
    for route in sorted(set(rec.samples) | set(rec.errors)):
        s = rec.samples.get(route, [])
        rows.append(
            {
                "route": route,
                "count": len(s),
                "errors": sum(rec.errors[route].values()),
                "error_kinds": dict(rec.errors[route]),
                "p50_ms": round(pct(s, 0.5), 1),
                "p95_ms": round(pct(s, 0.95), 1),
                "max_ms": round(max(s), 1) if s else 0.0,
                "mean_ms": round(statistics.fmean(s), 1) if s else 0.0,
            }
        )
    checks = {
        **{k: len(v) for k, v in check.items() if isinstance(v, list)},
        "outbound_states": check["outbound_states"],
        "notifications_sent": sum(sent_ids.values()),
        "notifications_received": sum(received.values()),
        "notifications_missing": len(sent_ids - received),
        "notifications_doubled": sum(1 for n in received.values() if n > 1),
        "notifications_unexpected": len(received - sent_ids),
        "tickets": check["tickets"],
        "numbers_unique": check["numbers_unique"],
        "errors": sum(r["errors"] for r in rows),
        "writes": {k: len(v) for k, v in rec.markers.items()},
    }
    bad = [
        k
        for k, v in checks.items()
        if (k.endswith(("_missing", "_doubled", "_unexpected", "_without_request")) and v)
        or (k == "errors" and v)
        or (k == "numbers_unique" and not v)
    ] + (["outbox not drained"] if set(check["outbound_states"]) - {"sent", "suppressed"} else [])
    ok = not bad

    print(f"\n{'route':34} {'count':>7} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for r in rows:
        print(
            f"{r['route']:34} {r['count']:7d} {r['errors']:6d} {r['p50_ms']:8.1f} "
            f"{r['p95_ms']:8.1f} {r['max_ms']:8.1f}"
        )
    total = sum(r["count"] for r in rows)
    print(f"\n{total} requests in {wall:.0f} s ({total / wall:.1f}/s); checks:")
    for k, v in checks.items():
        print(f"  {k}: {v}")
    print("RESULT:", "OK" if ok else f"FAILED ({', '.join(bad)})")
    result = {
        "label": label,
        "minutes": args.minutes,
        "clients": args.clients,
        "wall_seconds": round(wall, 1),
        "routes": rows,
        "checks": checks,
        "ok": ok,
        "failed": bad,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
