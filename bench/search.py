"""Full-text search latency at 100k requests / 300k messages, on SQLite or PostgreSQL.

    .venv/bin/python bench/search.py                                  # SQLite, 100k
    .venv/bin/python bench/search.py \\
        --database-url postgres://postgres@127.0.0.1:5432/aftercare_search_bench
    .venv/bin/python bench/search.py --tickets 20000 --samples 100    # a quick run
    .venv/bin/python bench/search.py --reuse --helpdesk-data /tmp/peer/data100k \\
        --http-scenario search --http-scenario queue_search       # beside django-helpdesk

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
JSON line per measurement.

5. (Run before step 4.) Over HTTP, side by side with django-helpdesk (``--helpdesk-data /tmp/peer/data100k``;
   ``--http`` alone measures Aftercare only): starts ``gunicorn aftercare.wsgi`` (2 sync
   workers) on this database and the peer's ``hdproj.wsgi`` (2 sync workers, a temporary
   copy of its seeded data) on 127.0.0.1, and drives both with the peer harness's own
   client, ``loadtest/bench_http.py`` (httpx, concurrency 1), run by the peer venv's
   Python: its ``search`` scenario (``/tickets/?q=WORD`` plus its DataTables XHR) for
   helpdesk, and this file, which doubles as a ``bench_http.py`` profile (``setup`` and
   ``SCENARIOS`` below), for Aftercare's ``/console/search/?q=WORD`` signed in as
   ``bench``. Words rotate over the harness's ``printer, invoice, vpn, zzznohit`` for both.
   ``--http-rounds`` alternating rounds (A H, H A, …) share ``--http-seconds`` per
   product and scenario, so both see the same noise; prints each round, the ratio helpdesk ÷
   Aftercare per round, and the load average. ``--http-only`` skips step 4
   (in-process).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
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


HTTP_WORDS = "printer,invoice,vpn,zzznohit"  # the peer harness's search rotation


# --- this file as a bench_http.py profile (Aftercare, signed in as the bench operator) ---


async def setup(client, cfg: dict) -> dict:
    """bench_http.py profile hook: sign in through the login form (CSRF token + cookie)."""
    r = await client.get("/accounts/login/")
    assert r.status_code == 200, f"login form {r.status_code}"
    m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', r.text)
    token = m.group(1) if m else client.cookies.get("csrftoken", "")
    r = await client.post(
        "/accounts/login/",
        data={
            "username": cfg["user"],
            "password": cfg["password"],
            "csrfmiddlewaretoken": token,
            "next": "/console/",
        },
        headers={"Referer": cfg["base_url"] + "/accounts/login/"},
    )
    assert r.status_code == 302, f"login failed: {r.status_code}"
    return {"search": cfg["extra"].get("search", HTTP_WORDS).split(",")}


def _http_get(path: str):
    async def sample(client, ctx: dict, i: int, rng) -> bool:
        word = ctx["search"][max(i, 0) % len(ctx["search"])]
        r = await client.get(path, params={"q": word})
        assert r.status_code == 200, f"{path}?q={word}: {r.status_code}"
        return True

    return sample


SCENARIOS = {"search": _http_get("/console/search/"), "queue_search": _http_get("/console/")}


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
    h = p.add_argument_group("over HTTP, beside django-helpdesk (step 5)")
    h.add_argument("--http", action="store_true", help="measure Aftercare's page over HTTP")
    h.add_argument("--http-only", action="store_true", help="skip the in-process timing")
    h.add_argument("--helpdesk-data", help="a seeded helpdesk data dir (copied first)")
    h.add_argument("--helpdesk-venv", default="/tmp/peer/venv", help="has gunicorn and httpx")
    h.add_argument(
        "--helpdesk-harness",
        default=str(ROOT.parent / "shared" / "peers" / "django-helpdesk"),
        help="the peer harness (hdproj/, loadtest/bench_http.py)",
    )
    h.add_argument("--port", type=int, default=8030, help="Aftercare's gunicorn")
    h.add_argument("--helpdesk-port", type=int, default=8031)
    h.add_argument("--http-seconds", type=float, default=20, help="per product, all rounds")
    h.add_argument("--http-rounds", type=int, default=2)
    h.add_argument("--http-words", default=HTTP_WORDS)
    h.add_argument(
        "--http-scenario",
        action="append",
        choices=sorted(SCENARIOS),
        help="Aftercare scenario(s) (default: search, the console search page)",
    )
    args = p.parse_args()
    args.http = args.http or bool(args.helpdesk_data) or args.http_only
    return args


def configure(args: argparse.Namespace) -> None:
    os.environ["AFTERCARE_DATA_DIR"] = args.data_dir or os.environ.get(
        "AFTERCARE_DATA_DIR", DEFAULT_DATA_DIR
    )
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "aftercare.settings"
    os.environ["DEBUG"] = "0"
    # One log line per request would bury the tables (console.py does the same).
    os.environ.setdefault("AFTERCARE_LOG_LEVEL", "WARNING")
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


def bench_http(
    args,
    port: int,
    profile: str,
    user: str,
    password: str,
    scenario: str,
    seconds: float,
    label: str,
) -> dict:
    """One bench_http.py run (concurrency 1) in the peer venv; returns its JSON row."""
    harness = Path(args.helpdesk_harness)
    cmd = [str(Path(args.helpdesk_venv) / "bin" / "python"), "loadtest/bench_http.py"]
    cmd += ["--base-url", f"http://127.0.0.1:{port}", "--profile", profile]
    cmd += ["--user", user, "--password", password, "--extra", f"search={args.http_words}"]
    cmd += ["--scenario", f"{scenario}:1:{seconds:g}", "--label", label]
    out = subprocess.run(  # noqa: S603 - the harness's own client, loopback only
        cmd, cwd=harness, check=True, capture_output=True, text=True
    )
    if out.stderr.strip():
        print(out.stderr.strip(), file=sys.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def http_side_by_side(args: argparse.Namespace, engine: str, report: dict) -> list[dict]:
    """Step 5: both products over HTTP with the peer harness's client, alternating."""
    from console import aftercare_environment, start_server, stop_server

    harness = Path(args.helpdesk_harness)
    if not (harness / "loadtest" / "bench_http.py").exists():
        raise SystemExit(f"no loadtest/bench_http.py under {harness} (--helpdesk-harness)")
    env = aftercare_environment(args)
    data_dir = Path(env["AFTERCARE_DATA_DIR"])
    seed_file = data_dir / "bench.json"
    seed_info = json.loads(seed_file.read_text()) if seed_file.exists() else {}
    ac_user, ac_pass = seed_info.get("staff_login", ["bench", "bench-pass-123"])
    servers: list[subprocess.Popen] = []
    peer_tmp = None
    rows: list[dict] = []
    load = [os.getloadavg()[0]]
    try:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        cmd = [gunicorn, "aftercare.wsgi:application", "--bind", f"127.0.0.1:{args.port}"]
        cmd += ["--workers", "2", "--worker-class", "sync", "--log-level", "warning"]
        servers.append(
            start_server(cmd, env, ROOT, args.port, data_dir / "gunicorn.log", "/accounts/login/")
        )
        targets = [
            ("aftercare", args.port, str(Path(__file__).resolve()), ac_user, ac_pass, s)
            for s in (args.http_scenario or ["search"])
        ]
        if args.helpdesk_data:
            src = Path(args.helpdesk_data)
            peer = json.loads((src / "seed.json").read_text())
            peer_tmp = tempfile.mkdtemp(prefix="helpdesk-search-")
            shutil.copytree(src, peer_tmp, dirs_exist_ok=True)
            penv = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith("AFTERCARE")
                and k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DEBUG")
            }
            penv["HD_DATA_DIR"] = peer_tmp
            pcmd = [str(Path(args.helpdesk_venv) / "bin" / "gunicorn"), "hdproj.wsgi:application"]
            pcmd += ["--bind", f"127.0.0.1:{args.helpdesk_port}", "--workers", "2"]
            pcmd += ["--worker-class", "sync", "--log-level", "warning"]
            servers.append(
                start_server(
                    pcmd,
                    penv,
                    harness / "hdproj",
                    args.helpdesk_port,
                    Path(peer_tmp) / "gunicorn.log",
                    "/login/",
                )
            )
            report["helpdesk_tickets"] = peer["tickets"]
            report["helpdesk_followups"] = peer.get("followups")
            targets.append(
                (
                    "django-helpdesk",
                    args.helpdesk_port,
                    str(harness / "loadtest" / "profiles" / "helpdesk.py"),
                    peer["admin_user"],
                    peer["admin_pass"],
                    "search",
                )
            )
            print(f"django-helpdesk: {peer['tickets']} tickets (copy in {peer_tmp})", flush=True)
        per_round = args.http_seconds / args.http_rounds
        for r in range(args.http_rounds):
            order = targets if r % 2 == 0 else list(reversed(targets))
            for product, port, profile, user, password, scenario in order:
                print(f"  round {r + 1}: {product} {scenario} ({per_round:g} s) ...", flush=True)
                row = bench_http(args, port, profile, user, password, scenario, per_round, engine)
                row.update(product=product, round=r + 1, loadavg=round(os.getloadavg()[0], 2))
                rows.append(row)
    finally:
        for proc in reversed(servers):
            stop_server(proc)
        if peer_tmp:
            shutil.rmtree(peer_tmp, ignore_errors=True)
    load.append(os.getloadavg()[0])
    report["http_loadavg"] = [round(v, 2) for v in load]

    print(
        f"\n### Over HTTP ({engine}), bench_http.py, concurrency 1, {args.http_rounds} "
        f"alternating rounds; load average {load[0]:.2f} before, {load[1]:.2f} after "
        f"({os.cpu_count()} CPUs)\n"
    )
    print("| round | product | scenario | samples | err | p50 ms | p95 ms | mean ms | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['round']} | {row['product']} | {row['scenario']} | {row['ok']} | "
            f"{row['errors']} | {row['p50_ms']} | {row['p95_ms']} | {row['mean_ms']} | "
            f"{row['loadavg']} |"
        )

    def combined(mine: list[dict]) -> dict | None:
        # Weighted by samples: bench_http.py reports percentiles, not raw latencies.
        n = sum(r["ok"] for r in mine)
        if not n:
            return None
        return {
            "samples": n,
            "p50_ms": round(sum(r["p50_ms"] * r["ok"] for r in mine if r["ok"]) / n, 1),
            "p95_ms": round(sum(r["p95_ms"] * r["ok"] for r in mine if r["ok"]) / n, 1),
        }

    def ratio_row(name: str, a: dict | None, h: dict | None) -> None:
        if a and h and a["p50_ms"] and h["p50_ms"]:
            print(
                f"| {name} | {a['p50_ms']} / {a['p95_ms']} | {h['p50_ms']} / {h['p95_ms']} | "
                f"{h['p50_ms'] / a['p50_ms']:.1f} | {h['p95_ms'] / a['p95_ms']:.1f} |"
            )

    peer_rows = [x for x in rows if x["product"] == "django-helpdesk"]
    for scenario in dict.fromkeys(x["scenario"] for x in rows if x["product"] == "aftercare"):
        mine = [x for x in rows if x["product"] == "aftercare" and x["scenario"] == scenario]
        if not peer_rows:
            c = combined(mine)
            if c:
                print(
                    f"\nAftercare {scenario}, all rounds (sample-weighted): "
                    f"{c['samples']} samples, p50 {c['p50_ms']} ms, p95 {c['p95_ms']} ms"
                )
            continue
        print(
            f"\n| round | Aftercare {scenario} p50 / p95 ms | helpdesk search p50 / p95 ms "
            "| ratio p50 (helpdesk ÷ Aftercare) | ratio p95 |"
        )
        print("|---|---|---|---|---|")
        for r in range(1, args.http_rounds + 1):
            a = next(x for x in mine if x["round"] == r)
            h = next(x for x in peer_rows if x["round"] == r)
            ratio_row(str(r), a if a["ok"] else None, h if h["ok"] else None)
        ratio_row("all (sample-weighted)", combined(mine), combined(peer_rows))
    return [{"what": "http", **row} for row in rows]


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

    http_rows: list[dict] = []
    if args.http:
        connection.close()
        http_rows = http_side_by_side(args, engine, report)
    if args.http_only:
        if args.out:
            with Path(args.out).open("a") as fh:
                for row in http_rows:
                    fh.write(json.dumps({**report, **row}) + "\n")
        return

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
            for row in [*http_rows, *lines]:
                fh.write(json.dumps({**report, **row}) + "\n")


if __name__ == "__main__":
    main()
