"""SLA engine benchmarks.

    .venv/bin/python bench/sla.py deadlines [--n 100000]
    .venv/bin/python bench/sla.py report    # on a database made by bench/seed.py

``deadlines``: N deadline computations (``add_minutes``) and N elapsed-time measurements
(``seconds_between``) for random instants over two years, random priorities' targets and
five country calendars (RO, FR, UA, RU, CH-ZH) — the pure arithmetic the engine does for
every clock. Calendars are built before timing (once per process in production too).

``report``: gives every seeded request SLA clocks (bulk insert, stopped ones with elapsed
times, so the report has real work), then times the report the console's reports page
builds, in process, over all of them, plus the page through Django's test client.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def deadlines(n: int, seed: int = 7) -> None:
    from aftercare.sla.calendar import BusinessCalendar

    calendars = [
        BusinessCalendar("Europe/Bucharest", country="RO"),
        BusinessCalendar("Europe/Paris", country="FR"),
        BusinessCalendar("Europe/Kyiv", country="UA"),
        BusinessCalendar("Europe/Moscow", country="RU"),
        BusinessCalendar("Europe/Zurich", country="CH", subdivision="ZH"),
    ]
    targets = [240, 2 * 540, 5 * 540, 10 * 540]  # the default plan's resolution targets
    rng = random.Random(seed)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    jobs = [
        (
            rng.choice(calendars),
            base + timedelta(seconds=rng.randrange(2 * 365 * 86400)),
            rng.choice(targets),
        )
        for _ in range(n)
    ]
    for cal in calendars:  # build the opening intervals for the years in play
        cal.add_minutes(base, 1)
        cal.add_minutes(base + timedelta(days=3 * 365), 1)
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        ends = [cal.add_minutes(start, minutes) for cal, start, minutes in jobs]
        runs.append(time.perf_counter() - t0)
    best = min(runs)
    t0 = time.perf_counter()
    for (cal, start, _m), end in zip(jobs, ends, strict=True):
        cal.seconds_between(start, end)
    between = time.perf_counter() - t0
    print(
        f"deadline computations: {n} in {best:.3f} s (best of 3) = {n / best:,.0f}/s; "
        f"median run {statistics.median(runs):.3f} s"
    )
    print(f"elapsed measurements:  {n} in {between:.3f} s = {n / between:,.0f}/s")


def report() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftercare.settings")
    os.environ.setdefault("AFTERCARE_DATA_DIR", "/tmp/aftercare-bench")
    import django

    django.setup()
    from django.test import Client
    from django_scopes import scopes_disabled

    from aftercare.desk.models import Ticket
    from aftercare.sla import reports
    from aftercare.sla.models import Metric, SlaClock, SlaPlan

    rng = random.Random(11)
    with scopes_disabled():
        plan = SlaPlan.objects.get(is_default=True)
        if not SlaClock.objects.exists():
            t0 = time.perf_counter()
            rows = []
            for pk, org, created, status in Ticket.objects.values_list(
                "pk", "organisation_id", "created_at", "status"
            ).iterator(chunk_size=5000):
                closed = status in ("done", "released", "archived", "rejected")
                for metric, target in ((Metric.FIRST_RESPONSE, 240), (Metric.RESOLUTION, 5 * 540)):
                    elapsed = rng.expovariate(1 / (target * 0.7))
                    stopped = closed or metric == Metric.FIRST_RESPONSE
                    rows.append(
                        SlaClock(
                            ticket_id=pk,
                            organisation_id=org,
                            metric=metric,
                            plan=plan,
                            target_minutes=target,
                            started_at=created,
                            state=(
                                ("met" if elapsed <= target else "breached")
                                if stopped
                                else "running"
                            ),
                            stopped_at=created + timedelta(minutes=elapsed * 2.5)
                            if stopped
                            else None,
                            elapsed_minutes=elapsed if stopped else None,
                            deadline=None if stopped else created + timedelta(days=7),
                        )
                    )
                if len(rows) >= 20000:
                    SlaClock.objects.bulk_create(rows, batch_size=5000)
                    rows = []
            SlaClock.objects.bulk_create(rows, batch_size=5000)
            print(f"clocks inserted in {time.perf_counter() - t0:.1f} s")
        total = SlaClock.objects.count()
        tickets = Ticket.objects.count()
        start, end = reports.period_from({"from": "2025-01", "to": "2026-12"})
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            reports.build(Ticket.objects.all(), SlaClock.objects.all(), start, end)
            times.append(time.perf_counter() - t0)
    print(
        f"report over {tickets} requests / {total} clocks, 24 months: "
        f"median {statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms"
    )
    from aftercare.accounts.models import User

    client = Client()
    manager = User.objects.filter(groups__name="Support managers").first()
    if manager is None:
        print("no support manager in the seeded data; page timing skipped")
        return
    client.force_login(manager)
    page = []
    for _ in range(5):
        t0 = time.perf_counter()
        response = client.get("/console/reports/", {"from": "2025-01", "to": "2026-12"})
        page.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.status_code
    print(
        f"reports page (test client, in process): median "
        f"{statistics.median(page) * 1000:.0f} ms, best {min(page) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["deadlines", "report"])
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    if args.what == "deadlines":
        deadlines(args.n)
    else:
        report()


if __name__ == "__main__":
    main()
