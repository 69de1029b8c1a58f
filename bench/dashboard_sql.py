"""EXPLAIN ANALYZE of each dashboard query on a seeded PostgreSQL database.

    .venv/bin/python bench/dashboard_sql.py --database-url postgres://…/aftercare_bench

Builds the dashboard once as the seed's support manager (``bench-manager``, every
customer) and once filtered to one customer, captures the SQL the page runs, and prints
for each query its execution time (median of 5 runs of ``EXPLAIN (ANALYZE, BUFFERS)``),
the rows it returned and the plan's scan nodes, so a sequential scan on a big table shows
up at once. ``--plans`` prints the whole plans.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", help="default: $DATABASE_URL")
    p.add_argument("--data-dir", default="/tmp/aftercare-bench")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--plans", action="store_true")
    args = p.parse_args()
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("AFTERCARE_DATA_DIR", args.data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "aftercare.settings"
    os.environ["DEBUG"] = "0"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from django_scopes import scopes_disabled

    from aftercare.accounts.models import User
    from aftercare.desk.models import Ticket
    from aftercare.sla.models import SlaClock
    from aftercare.tenancy.models import Organisation

    dashboard = sys.modules.get("aftercare.console.views.dashboard")
    if dashboard is None:
        import importlib

        dashboard = importlib.import_module("aftercare.console.views.dashboard")
    if connection.vendor != "postgresql":
        sys.exit("EXPLAIN ANALYZE needs PostgreSQL")
    with scopes_disabled():
        manager = User.objects.get(username="bench-manager")
        timezone.activate(manager.time_zone)
        orgs = {o.pk: o.name for o in Organisation.objects.all()}
        total = Ticket.objects.count()
        one = min(orgs)
        cases = [
            ("all customers", Ticket.objects.all(), SlaClock.objects.all(), orgs),
            (
                "one customer",
                Ticket.objects.filter(organisation_id=one),
                SlaClock.objects.filter(organisation_id=one),
                {one: orgs[one]},
            ),
        ]
        print(f"{total} requests, PostgreSQL {connection.pg_version}")
        for label, tickets, clocks, names in cases:
            with CaptureQueriesContext(connection) as ctx:
                dashboard.build(tickets, clocks, organisations=names, weeks=12)
            print(f"\n## {label}: {len(ctx.captured_queries)} queries")
            print("| # | query | ms (median) | rows | scans |")
            print("|---|---|---|---|---|")
            for i, q in enumerate(ctx.captured_queries, 1):
                sql = q["sql"]
                times, plan = [], ""
                with connection.cursor() as cur:
                    for _ in range(args.runs):
                        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                        lines = [r[0] for r in cur.fetchall()]
                        times.append(float(re.search(r"Execution Time: ([\d.]+)", lines[-1])[1]))
                        plan = "\n".join(lines)
                top = re.search(r"actual time=[\d.]+\.\.[\d.]+ rows=(\d+)", plan)
                scans = sorted(
                    set(
                        re.findall(
                            r"((?:Parallel )?(?:Seq|Index|Index Only|Bitmap Heap|Bitmap Index)"
                            r" Scan(?: Backward)?)(?: using (\w+))? on (\w+)",
                            plan,
                        )
                    )
                )
                scan_text = "; ".join(
                    f"{kind} {table}" + (f" ({index})" if index else "")
                    for kind, index, table in scans
                )
                head = re.sub(r"\s+", " ", sql)[:70]
                print(
                    f"| {i} | `{head}…` | {statistics.median(times):.2f} | "
                    f"{top[1] if top else ''} | {scan_text} |"
                )
                if args.plans:
                    print("\n```\n" + plan + "\n```\n")


if __name__ == "__main__":
    main()
