"""Monitoring alerts into incidents: throughput, latency and de-duplication.

    .venv/bin/python bench/alerts.py                        # 1 minute, in process, fresh SQLite
    .venv/bin/python bench/alerts.py --minutes 3 --rate 2000
    .venv/bin/python bench/alerts.py --base-url http://127.0.0.1:8000 --token acal_…

Posts ``--rate`` alerts per minute (default 1,000) from ``--fingerprints`` distinct
fingerprints (default 50) to ``POST /api/v1/alerts/generic`` for ``--minutes``, one
client, paced evenly (a late request is sent at once, never skipped). A share of the
posts (``--resolve-share``, default 0.1) are "resolved" for a fingerprint that fired
before, so the flapping path (resolve, fire again, same request) runs too.

Without ``--base-url`` the script seeds a demo organisation, coordinator, system,
production environment and integration token in a fresh database (``--database-url``,
else SQLite in a temporary data directory that is removed afterwards) and posts through
Django's test client in this process. With ``--base-url`` (loopback only) it posts to a
running server with ``--token`` (issue one with ``aftercare alerts-token``; raise
``AFTERCARE_ALERTS_RATE_PER_MINUTE`` there if the rate is above its limit).

Reported: alerts sent, errors by status, throughput (alerts/s over the wall time),
p50/p95/p99/max latency, and requests opened vs distinct incidents (from the answers;
in process also counted in the database) — they must be equal to the fingerprints.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup(args: argparse.Namespace) -> Path | None:
    scratch = None
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        scratch = Path(tempfile.mkdtemp(prefix="aftercare-alerts-bench-"))
        (scratch / "static").mkdir()  # WhiteNoise warns about a missing folder
        os.environ["AFTERCARE_DATA_DIR"] = str(scratch)
        os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "aftercare.settings"
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("AFTERCARE_LOG_LEVEL", "WARNING")
    os.environ["AFTERCARE_ALERTS_RATE_PER_MINUTE"] = str(max(args.rate * 10, 6000))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return scratch


def _seed() -> str:
    from django_scopes import scopes_disabled

    from aftercare.accounts.models import User
    from aftercare.accounts.roles import Role
    from aftercare.alerts import services
    from aftercare.lifecycle.models import Environment
    from aftercare.tenancy.models import Membership, Organisation, System

    with scopes_disabled():
        org, _created = Organisation.objects.get_or_create(
            code="bench-alerts", defaults={"name": "Bench Alerts SRL"}
        )
        user, _created = User.objects.get_or_create(
            username="bench-alerts-coord", defaults={"email": "coord@bench-alerts.example"}
        )
        Membership.objects.get_or_create(
            user=user, organisation=org, defaults={"role": Role.COORDINATOR}
        )
        system, _created = System.objects.get_or_create(
            organisation=org, name="Bench ERP", defaults={"product": "ERP"}
        )
        env, _created = Environment.objects.get_or_create(
            system=system, name="Production", defaults={"kind": Environment.Kind.PRODUCTION}
        )
    _integration, token = services.issue(
        organisation=org, environment=env, name="bench", actor=None
    )
    return token


class _Http:
    """One keep-alive connection to a loopback server (re-opened when it closes)."""

    def __init__(self, base_url: str, token: str) -> None:
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        if not ipaddress.ip_address(host if host != "localhost" else "127.0.0.1").is_loopback:
            raise SystemExit("Only loopback addresses are accepted as targets.")
        self.host, self.port = host, parts.port or 80
        self.path = parts.path.rstrip("/") + "/api/v1/alerts/generic"
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> tuple[int, dict]:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request("POST", self.path, body=body, headers=self.headers)
                response = self.conn.getresponse()
                data = response.read()
                return response.status, json.loads(data or b"{}")
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


class _InProcess:
    def __init__(self, token: str) -> None:
        from django.test import Client

        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def post(self, body: bytes) -> tuple[int, dict]:
        response = self.client.post(
            "/api/v1/alerts/generic", data=body, content_type="application/json", **self.headers
        )
        return response.status_code, json.loads(response.content or b"{}")


def _body(fingerprint: int, status: str) -> bytes:
    return json.dumps(
        {
            "source": "bench",
            "fingerprint": f"bench-{fingerprint:03d}",
            "status": status,
            "severity": random.choice(["high", "average", "warning"]),  # noqa: S311
            "summary": f"Bench check {fingerprint:03d} failed",
            "details": "Posted by bench/alerts.py.",
            "labels": {"check": f"c{fingerprint}", "site": "bench"},
        }
    ).encode()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(args: argparse.Namespace) -> int:
    random.seed(args.seed)
    scratch = None
    if args.base_url:
        if not args.token:
            raise SystemExit("--base-url needs --token (aftercare alerts-token …).")
        client = _Http(args.base_url, args.token)
    else:
        scratch = _setup(args)
        client = _InProcess(_seed())
    total = int(args.rate * args.minutes)
    interval = 60.0 / args.rate
    fired: set[int] = set()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    results: Counter[str] = Counter()
    opened: set[str] = set()
    tickets: set[str] = set()
    start = time.perf_counter()
    try:
        for i in range(total):
            due = start + i * interval
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            fingerprint = random.randrange(args.fingerprints)  # noqa: S311
            resolve = fingerprint in fired and random.random() < args.resolve_share  # noqa: S311
            body = _body(fingerprint, "resolved" if resolve else "firing")
            sent = time.perf_counter()
            status, answer = client.post(body)
            elapsed = time.perf_counter() - sent
            statuses[status] += 1
            if status != 200:
                continue
            fired.add(fingerprint)
            latencies.append(elapsed)
            for alert in answer.get("alerts", []):
                results[alert["result"]] += 1
                if alert.get("ticket"):
                    tickets.add(alert["ticket"])
                    if alert["result"] in ("opened", "follow_up"):
                        opened.add(alert["ticket"])
        wall = time.perf_counter() - start
        ok = statuses[200]
        print(
            f"alerts sent            {total} over {wall:.1f} s ({args.fingerprints} fingerprints)"
        )
        print(f"answers                {dict(sorted(statuses.items()))}")
        print(f"results                {dict(sorted(results.items()))}")
        print(f"throughput             {ok / wall:.1f} alerts/s ({ok / wall * 60:.0f}/min)")
        print(
            "latency ms             "
            f"p50 {_pct(latencies, 0.5) * 1000:.1f}  p95 {_pct(latencies, 0.95) * 1000:.1f}  "
            f"p99 {_pct(latencies, 0.99) * 1000:.1f}  max {max(latencies, default=0) * 1000:.1f}  "
            f"mean {statistics.fmean(latencies) * 1000 if latencies else 0:.1f}"
        )
        print(f"requests opened        {len(opened)}")
        print(f"distinct incidents     {len(tickets)}")
        equal = len(opened) == len(tickets)
        if scratch is not None or args.database_url:
            from django_scopes import scopes_disabled

            from aftercare.alerts.models import AlertIncident
            from aftercare.desk.models import Ticket

            with scopes_disabled():
                db_tickets = Ticket.objects.filter(organisation__code="bench-alerts").count()
                db_incidents = (
                    AlertIncident.objects.filter(integration__name="bench", ticket__isnull=False)
                    .values("ticket")
                    .distinct()
                    .count()
                )
            print(f"in the database        {db_tickets} requests, {db_incidents} alert incidents")
            equal = equal and db_tickets == db_incidents == len(opened)
        print("opened == incidents    " + ("yes" if equal else "NO"))
        return 0 if equal and ok == total else 1
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=1.0)
    p.add_argument("--rate", type=int, default=1000, help="alerts per minute")
    p.add_argument("--fingerprints", type=int, default=50)
    p.add_argument("--resolve-share", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--base-url", help="a running server (loopback only)")
    p.add_argument("--token", help="the integration token for --base-url")
    p.add_argument("--database-url", help="in process: this database instead of a scratch SQLite")
    sys.exit(run(p.parse_args()))


if __name__ == "__main__":
    main()
