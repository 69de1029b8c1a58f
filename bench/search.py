"""Full-text search latency at 100k requests / 300k messages, on SQLite or PostgreSQL.

    .venv/bin/python bench/search.py                                  # SQLite, 100k
    .venv/bin/python bench/search.py \\
        --database-url postgres://postgres@127.0.0.1:5432/aftercare_search_bench
    .venv/bin/python bench/search.py --tickets 20000 --samples 100    # a quick run

1. ``bench/seed.py`` makes a fresh database (``--tickets`` requests with 1-3 messages each,
   written with bulk inserts, which bypass the index writers); ``--reuse`` skips this and
   step 2 when the database already holds a previous run's data.
2. Here: every 5th request gets a subject and reply in Russian, Ukrainian, Romanian or
   French (with the accents and cases the issue names), and more messages are added
   until there are 3 per request on average.
3. ``search_reindex``'s rebuild, timed.
4. For each query of a fixed set (Cyrillic in both cases, Romanian with and without
   diacritics, French accents, numbers long and short, common and missing words, a
   prefix as typed), ``--samples`` rounds of ``aftercare.search.query.search`` as the
   ``bench`` operator (every organisation, internal notes included) and as the
   ``bench-coord`` customer coordinator (one organisation), in-process; then the whole
   search page and the queue's ``?q=`` through Django's test client (no network).

Prints markdown tables of p50/p95 per query and overall, and with ``--out`` appends one
JSON line per measurement. The helpdesk comparison (HTTP, side by side) is
``bench/console.py --helpdesk-data …``, whose "search" pair now runs this index through
the queue's ``q``; see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = "/tmp/aftercare-search-bench"

TEXTS = [
    (
        "Состояние склада не совпадает после закрытия месяца",
        "СОСТОЯНИЕ остатков в отчёте отличается; проверьте, пожалуйста, сегодня.",
    ),
    (
        "Стан складу не збігається зі звітом",
        "Прошу перевірити стан складу після оновлення, помилка з'являється щоранку.",
    ),
    (
        "Factura doamnei Ghiță nu se poate emite",
        "Dna Ghiţă spune că scadența facturii e mâine și ȘTAMPILA lipsește din raport.",
    ),
    (
        "Échéance du relevé bancaire dépassée",
        "L'échéance de clôture est vendredi; le relevé ne s'importe plus depuis la mise à jour.",
    ),
]
QUERIES = [
    "состояние",
    "СОСТОЯНИЕ склада",
    "стан складу",
    "Ghita",
    "ghiță factura",
    "echeance",
    "échéance relevé",
    "invoice",
    "printer fails",
    "month-end closing",
    "vpn",
    "invo",
    "zzznohit",
    "{number}",
    "{short}",
]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tickets", type=int, default=100_000)
    p.add_argument("--messages-per-ticket", type=float, default=3.0)
    p.add_argument("--database-url", help="default: $DATABASE_URL, else SQLite in the data dir")
    p.add_argument("--data-dir", help=f"default: $AFTERCARE_DATA_DIR, else {DEFAULT_DATA_DIR}")
    p.add_argument("--samples", type=int, default=200, help="rounds over the query set")
    p.add_argument("--reuse", action="store_true", help="skip seeding and reindexing")
    p.add_argument("--skip-seed", action="store_true", help="keep seed.py's data, redo the rest")
    p.add_argument("--out", help="append JSON lines here")
    p.add_argument("--seed", type=int, default=7)
    return p.parse_args()


def configure(args: argparse.Namespace) -> None:
    os.environ["AFTERCARE_DATA_DIR"] = args.data_dir or os.environ.get(
        "AFTERCARE_DATA_DIR", DEFAULT_DATA_DIR
    )
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "aftercare.settings"
    os.environ["DEBUG"] = "0"
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))


def seed(args: argparse.Namespace) -> None:
    cmd = [sys.executable, str(ROOT / "bench" / "seed.py"), "--tickets", str(args.tickets)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=os.environ.copy())  # noqa: S603 - our own script
    print(f"seed.py: {time.perf_counter() - t0:.0f} s", flush=True)


def add_languages(args: argparse.Namespace) -> int:
    """Multilingual subjects and replies, and messages up to the wanted average."""
    from django.db import connection, transaction
    from django_scopes import scopes_disabled
    from seed import REPLIES, insert_rows

    from aftercare.desk.models import Message, Ticket

    rng = random.Random(args.seed)
    with scopes_disabled():
        if Ticket.objects.filter(subject=TEXTS[0][0]).exists():
            return Message.objects.count()  # done by an earlier run on this database
        rows = list(
            Ticket.objects.order_by("pk").values_list(
                "pk", "organisation_id", "reporter_id", "created_at", "updated_at"
            )
        )
        have = Message.objects.count()
    want = int(len(rows) * args.messages_per_ticket)
    extra: list[dict] = []
    with scopes_disabled(), transaction.atomic():
        for i, (pk, org, reporter, created, updated) in enumerate(rows):
            if i % 5 == 0:
                subject, body = TEXTS[(i // 5) % len(TEXTS)]
                Ticket.objects.filter(pk=pk).update(subject=subject)
                extra.append(
                    dict(
                        ticket_id=pk,
                        organisation_id=org,
                        author_id=reporter,
                        channel="portal",
                        body=body,
                        created_at=updated,
                    )
                )
        while have + len(extra) < want:
            pk, org, reporter, created, updated = rng.choice(rows)
            internal = rng.random() < 0.2
            extra.append(
                dict(
                    ticket_id=pk,
                    organisation_id=org,
                    author_id=reporter,
                    kind="internal" if internal else "public",
                    channel="portal",
                    body=rng.choice([*REPLIES, *(t[1] for t in TEXTS)]),
                    created_at=created + (updated - created) * rng.random(),
                )
            )
        for start in range(0, len(extra), 20_000):
            insert_rows(connection, Message, extra[start : start + 20_000])
    return have + len(extra)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    args = parse_args()
    configure(args)
    if not (args.reuse or args.skip_seed):
        seed(args)

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django_scopes import scope, scopes_disabled

    from aftercare.accounts.models import User
    from aftercare.accounts.roles import PermSet
    from aftercare.desk.models import Message, Ticket
    from aftercare.search.indexer import rebuild
    from aftercare.search.models import SearchDocument
    from aftercare.search.query import PAGE_SIZE, search

    settings.ALLOWED_HOSTS = ["*"]
    engine = connection.vendor
    report: dict = {"engine": engine}
    if not args.reuse:
        t0 = time.perf_counter()
        messages = add_languages(args)
        print(f"languages and messages: {time.perf_counter() - t0:.0f} s", flush=True)
        # The search tables at the current migration (a database seeded before a change
        # of the index is migrated here), without the post-migrate fill: timed below.
        from django.apps import apps
        from django.core.management import call_command
        from django.db.models.signals import post_migrate

        from aftercare.search import signals

        post_migrate.disconnect(signals.index_existing, sender=apps.get_app_config("search"))
        call_command("migrate", verbosity=0)
        t0 = time.perf_counter()
        with scope(organisation=None):
            rebuild()
        report["seconds_reindex"] = round(time.perf_counter() - t0, 1)
        print(f"reindex: {report['seconds_reindex']} s", flush=True)
    with scopes_disabled():
        report["tickets"] = Ticket.objects.count()
        report["messages"] = messages if not args.reuse else Message.objects.count()
        report["documents"] = SearchDocument.objects.count()
        sample = Ticket.objects.order_by("pk")[report["tickets"] // 2]
    number = sample.number
    short = str(int(number.rsplit("-", 1)[1]))
    queries = [q.format(number=number, short=short) for q in QUERIES]
    print(
        f"{engine}: {report['tickets']} requests, {report['messages']} messages, "
        f"{report['documents']} documents",
        flush=True,
    )

    staff = User.objects.get(username="bench")
    coordinator = User.objects.get(username="bench-coord")
    readers = {"staff": PermSet(staff), "coordinator": PermSet(coordinator)}
    timings: dict[tuple[str, str], list[float]] = {}
    hits: dict[tuple[str, str], int] = {}
    for who, permset in readers.items():
        org_scope = None if who == "staff" else list(permset.memberships)
        with scope(organisation=org_scope):
            for q in queries:  # warm-up
                search(permset, q, size=PAGE_SIZE)
            for _round in range(args.samples):
                for q in queries:
                    t0 = time.perf_counter()
                    # What the page asks for: the best 50 ranked, the first 20 with rows
                    # and snippets.
                    result = search(permset, q, size=PAGE_SIZE)
                    timings.setdefault((who, q), []).append((time.perf_counter() - t0) * 1000)
                    hits[(who, q)] = result.total

    pages: dict[str, list[float]] = {}
    client = Client()
    client.force_login(staff)
    customer_client = Client()
    customer_client.force_login(coordinator)
    page_rounds = max(10, args.samples // 5)
    for name, c, url in (
        ("console search page", client, "/console/search/"),
        ("portal search page", customer_client, "/portal/search/"),
        ("queue ?q=", client, "/console/"),
    ):
        for q in queries[:3]:
            c.get(url, {"q": q})
        for _round in range(page_rounds):
            for q in queries:
                t0 = time.perf_counter()
                response = c.get(url, {"q": q})
                pages.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (name, q, response.status_code)

    print(f"\n### search() in-process, {engine}, {args.samples} rounds\n")
    print("| query | reader | hits | p50 ms | p95 ms |")
    print("|---|---|---|---|---|")
    lines = []
    for (who, q), values in timings.items():
        row = {
            "engine": engine,
            "what": "search()",
            "reader": who,
            "query": q,
            "hits": hits[(who, q)],
            "p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(pct(values, 95), 2),
        }
        lines.append(row)
        print(f"| `{q}` | {who} | {row['hits']} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} |")
    print("\n| overall | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|")
    for who in readers:
        values = [v for (w, _q), vs in timings.items() if w == who for v in vs]
        row = {
            "engine": engine,
            "what": "search() overall",
            "reader": who,
            "p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(pct(values, 95), 2),
            "max_ms": round(max(values), 2),
        }
        lines.append(row)
        print(
            f"| search(), {who} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['max_ms']:.1f} |"
        )
    for name, values in pages.items():
        row = {
            "engine": engine,
            "what": name,
            "p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(pct(values, 95), 2),
            "max_ms": round(max(values), 2),
        }
        lines.append(row)
        print(
            f"| {name} (test client) | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['max_ms']:.1f} |"
        )
    if args.out:
        with Path(args.out).open("a") as fh:
            for row in lines:
                fh.write(json.dumps({**report, **row}) + "\n")


if __name__ == "__main__":
    main()
