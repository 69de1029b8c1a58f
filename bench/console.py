"""Latency of the staff console and the portal against a seeded database.

    .venv/bin/python bench/seed.py --tickets 100000        # once
    .venv/bin/python bench/console.py                      # ~2-5 minutes

Starts ``gunicorn aftercare.wsgi:application --workers 2`` (DEBUG off) on 127.0.0.1 with
the same database settings as ``seed.py`` (``--database-url`` / ``$DATABASE_URL``,
``--data-dir`` / ``$AFTERCARE_DATA_DIR``, default ``/tmp/aftercare-bench``), signs in as
the ``bench`` operator, the ``bench-coord`` coordinator and (for the ``dashboard``
scenarios) the ``bench-manager`` support manager with a plain stdlib HTTP client
(a cookie jar and the CSRF token of the sign-in form), and measures one scenario after the
other, one request at a time: each runs ``--requests`` samples or ``--seconds``, whichever
ends first, after a few warm-up requests. Prints a markdown table (p50/p95/mean) and, with
``--out``, appends one JSON line per scenario. The server is always stopped at the end.

Side by side with django-helpdesk (see docs/benchmarks.md for its set-up outside the repo):
``--helpdesk-data /tmp/peer/data100k`` copies that seeded peer database to a temporary
directory, starts the peer's own gunicorn (2 sync workers) from ``--helpdesk-venv`` and
``--helpdesk-project`` on another port and measures its list, detail and search with the
same client, in alternating rounds with Aftercare's queue, ticket page and search, so both
see the same noise on a shared machine. The ratio table divides Aftercare's p50 by
helpdesk's.

``--queries`` adds, after the HTTP run, the SQL query count and in-process time of one
request per scenario (Django test client, no network), which explains the HTTP figures.
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = "/tmp/aftercare-bench"
HOST = "127.0.0.1"
SEARCH_WORDS = ("printer", "invoice", "vpn", "zzznohit")  # the peer harness's rotation
PEER_LIST_PARAMS = {"start": "0", "length": "25", "order[0][column]": "5", "order[0][dir]": "desc"}


# --- a minimal HTTP client: one connection per request (gunicorn sync closes them) -----


class HttpError(AssertionError):
    pass


class Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.last_bytes = 0

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str, str]:
        headers = {"Host": f"{HOST}:{self.port}", "Accept": "text/html,application/json"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://{HOST}:{self.port}{path}"
        conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            for raw in resp.headers.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(raw)
                for name, morsel in jar.items():
                    self.cookies[name] = morsel.value
            self.last_bytes = len(payload)
            return resp.status, resp.headers.get("Location", ""), payload.decode("utf-8", "replace")
        finally:
            conn.close()

    def get(self, path: str, expect: int = 200) -> str:
        status, _loc, text = self.request("GET", path)
        if status != expect:
            raise HttpError(f"GET {path} -> {status}")
        return text

    def login(self, path: str, username: str, password: str, nxt: str) -> None:
        form = self.get(path)
        m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        token = m.group(1) if m else self.cookies.get("csrftoken", "")
        fields = {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": token,
            "next": nxt,
        }
        status, _loc, _text = self.request("POST", path, fields)
        if status != 302:
            raise SystemExit(f"sign-in as {username} at {path} failed: HTTP {status}")


# --- servers ------------------------------------------------------------------------------


def wait_ready(proc: subprocess.Popen, port: int, path: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server on port {port} exited; see {log}")
        try:
            status, _loc, _t = Client(port).request("GET", path)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"server on port {port} did not answer within 60 s; see {log}")


def start_server(cmd: list[str], env: dict, cwd: Path, port: int, log: Path, ready_path: str):
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, loopback only
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_ready(proc, port, ready_path, log)
    except BaseException:
        stop_server(proc)
        raise
    return proc


def stop_server(proc: subprocess.Popen | None) -> None:
    """Stop one gunicorn master we started (by its pid; it stops its own workers)."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# --- measuring ----------------------------------------------------------------------------

Sample = Callable[[Client, int, random.Random], int]  # returns how many requests it made


@dataclass
class Result:
    target: str
    scenario: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    requests: int = 0
    seconds: float = 0.0
    bytes: int = 0

    def row(self) -> dict:
        s = sorted(self.latencies)

        def ms(v):
            return None if v is None else round(v * 1000, 1)

        return {
            "target": self.target,
            "scenario": self.scenario,
            "samples": len(s),
            "errors": self.errors,
            "requests": self.requests,
            "samples_per_s": round(len(s) / self.seconds, 2) if self.seconds else None,
            "p50_ms": ms(pct(s, 50)),
            "p95_ms": ms(pct(s, 95)),
            "p99_ms": ms(pct(s, 99)),
            "mean_ms": ms(statistics.fmean(s)) if s else None,
            "max_ms": ms(s[-1] if s else None),
            "kb": round(self.bytes / max(1, len(s)) / 1024, 1),
        }


def pct(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (the same as the peer harness)."""
    if not values:
        return None
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def measure(
    result: Result,
    fn: Sample,
    client: Client,
    count: int,
    seconds: float,
    rng: random.Random,
    start_index: int = 0,
) -> None:
    deadline = time.perf_counter() + seconds
    began = time.perf_counter()
    i = start_index
    while len(result.latencies) + result.errors < count and time.perf_counter() < deadline:
        t = time.perf_counter()
        try:
            made = fn(client, i, rng)
        except (HttpError, OSError, ValueError) as exc:
            result.errors += 1
            if result.errors <= 3:
                print(f"    [{result.target}:{result.scenario}] {exc}", file=sys.stderr)
        else:
            result.latencies.append(time.perf_counter() - t)
            result.requests += made
            result.bytes += client.last_bytes
        i += 1
    result.seconds += time.perf_counter() - began


# --- Aftercare ----------------------------------------------------------------------------


def aftercare_environment(args: argparse.Namespace) -> dict:
    env = dict(os.environ)
    if args.data_dir:
        env["AFTERCARE_DATA_DIR"] = args.data_dir
    env.setdefault("AFTERCARE_DATA_DIR", DEFAULT_DATA_DIR)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    env["DEBUG"] = "0"
    env["DJANGO_SETTINGS_MODULE"] = "aftercare.settings"
    env.setdefault("AFTERCARE_LOG_LEVEL", "WARNING")
    # The checkout this script belongs to, even when the venv's editable install is another.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def load_fixture_facts(seed_info: dict) -> dict:
    """Ticket numbers, organisations and filter values taken from the seeded database."""
    from django.db import connections
    from django_scopes import scopes_disabled

    from aftercare.desk.models import Ticket
    from aftercare.tenancy.models import Organisation

    rng = random.Random(7)
    with scopes_disabled():
        ids = Ticket.objects.order_by("pk").values_list("pk", flat=True)
        lo, hi = ids.first(), ids.last()
        if lo is None:
            raise SystemExit("the database has no requests: run bench/seed.py first")
        picks = [rng.randint(lo, hi) for _ in range(600)]
        numbers = list(Ticket.objects.filter(pk__in=picks).values_list("number", flat=True))
        orgs = list(Organisation.objects.values_list("pk", flat=True))
        total = Ticket.objects.count()
    connections.close_all()
    rng.shuffle(numbers)
    return {**seed_info, "numbers": numbers, "organisations": orgs, "tickets": total}


def aftercare_scenarios(facts: dict, deep_pages: int) -> dict[str, Sample]:
    statuses = ["open", "backlog", "in_progress", "waiting", "done", "released", "archived"]
    numbers, orgs = facts["numbers"], facts["organisations"]
    deep: dict[str, str] = {}

    def get(path: str) -> Sample:
        def sample(c: Client, i: int, rng: random.Random) -> int:
            c.get(path)
            return 1

        return sample

    def filtered(c: Client, i: int, rng: random.Random) -> int:
        query = {
            "status": rng.choice(statuses),
            "priority": rng.randint(1, 4),
            "organisation": rng.choice(orgs),
        }
        c.get(f"/console/?{urlencode(query)}")
        return 1

    def next_link(page: str) -> str | None:
        m = re.search(r'href="(\?[^"]*after=[^"]+)"', page)
        return "/console/" + html.unescape(m.group(1)) if m else None

    def walk(c: Client, i: int, rng: random.Random) -> int:
        """Page 1 to page N by following Next links: one sample per page."""
        path, n = deep.get("walk_at", "/console/"), int(deep.get("walk_n", 1))
        nxt = next_link(c.get(path))
        if nxt and n < deep_pages:
            deep["walk_at"], deep["walk_n"] = nxt, str(n + 1)
        else:
            deep["walk_at"], deep["walk_n"] = "/console/", "1"
        return 1

    def page_deep(c: Client, i: int, rng: random.Random) -> int:
        if "url" not in deep:
            path, n = "/console/", 1
            while n < deep_pages:
                path = next_link(c.get(path))
                if path is None:
                    raise HttpError(f"the default queue has fewer than {deep_pages} pages")
                n += 1
            deep["url"] = path
        c.get(deep["url"])
        return 1

    def search_mixed(c: Client, i: int, rng: random.Random) -> int:
        c.get(f"/console/?{urlencode({'q': SEARCH_WORDS[i % len(SEARCH_WORDS)]})}")
        return 1

    def ticket(c: Client, i: int, rng: random.Random) -> int:
        c.get(f"/console/tickets/{rng.choice(numbers)}/")
        return 1

    def dashboard_filtered(c: Client, i: int, rng: random.Random) -> int:
        query = {"weeks": (4, 12, 26)[i % 3], "organisation": rng.choice(orgs)}
        c.get(f"/console/dashboard/?{urlencode(query)}")
        return 1

    return {
        "queue": get("/console/"),
        "queue_filtered": filtered,
        "queue_walk": walk,
        f"queue_page{deep_pages}": page_deep,
        "search": get("/console/?q=invoice"),
        "search_mixed": search_mixed,
        "board": get("/console/board/"),
        "ticket": ticket,
        "portal": get("/portal/"),  # signed in as the coordinator
        # Signed in as the support manager (bench-manager): the default 12 weeks, and
        # the other periods and customers in rotation.
        "dashboard": get("/console/dashboard/"),
        "dashboard_filtered": dashboard_filtered,
    }


# --- django-helpdesk (the peer), driven exactly like its own harness's profile ----------


def helpdesk_scenarios(info: dict) -> dict[str, Sample]:
    lo, hi = int(info["min_id"]), int(info["max_id"])

    def xhr_url(page: str) -> str:
        m = re.search(r'"url": "(/datatables_ticket_list/[A-Za-z0-9+/=]*)"', page)
        if not m:
            raise HttpError("datatables url not found in the ticket list page")
        return m.group(1)

    def list_page(c: Client, i: int, rng: random.Random) -> int:
        page = c.get("/tickets/")
        c.get(f"{xhr_url(page)}?{urlencode({'draw': i + 1, **PEER_LIST_PARAMS})}")
        return 2

    def list_data(c: Client, i: int, rng: random.Random) -> int:
        import base64

        q = {
            "filtering": {"status__in": [1, 2]},
            "sorting": "created",
            "search_string": "",
            "sortreverse": False,
        }
        enc = base64.b64encode(json.dumps(q).encode()).decode()
        c.get(f"/datatables_ticket_list/{enc}?{urlencode({'draw': i + 1, **PEER_LIST_PARAMS})}")
        return 1

    def detail(c: Client, i: int, rng: random.Random) -> int:
        c.get(f"/tickets/{rng.randint(lo, hi)}/")
        return 1

    def search(c: Client, i: int, rng: random.Random) -> int:
        word = SEARCH_WORDS[i % len(SEARCH_WORDS)]
        page = c.get(f"/tickets/?{urlencode({'q': word})}")
        c.get(f"{xhr_url(page)}?{urlencode({'draw': i + 1, **PEER_LIST_PARAMS})}")
        return 2

    return {"list": list_page, "list_data": list_data, "detail": detail, "search": search}


# Aftercare scenario -> the helpdesk scenario that shows a user the same thing.
PAIRS = [("queue", "list"), ("ticket", "detail"), ("search_mixed", "search")]


# --- SQL queries per page (in-process) ----------------------------------------------------


def count_queries(scenarios: dict[str, Sample], facts: dict) -> list[dict]:
    from django.db import connection, connections
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext
    from django_scopes import scopes_disabled

    from aftercare.accounts.models import User

    with scopes_disabled():
        staff = User.objects.get(username=facts["staff_login"][0])
        coord = User.objects.get(username=facts["coordinator_login"][0])
        manager = User.objects.get(username=facts["manager_login"][0])

    class Recorder(Client):
        def __init__(self):
            super().__init__(0)
            self.paths: list[str] = []

        def get(self, path: str, expect: int = 200) -> str:
            self.paths.append(path)
            return ""

    rows = []
    for name, fn in scenarios.items():
        if name in ("queue_walk",) or name.startswith("queue_page"):
            continue
        rec = Recorder()
        fn(rec, 1, random.Random(3))
        path = rec.paths[0]
        dj = DjangoClient()
        dj.force_login(
            coord if name == "portal" else manager if name.startswith("dashboard") else staff
        )
        timings, n = [], 0
        for _ in range(3):
            with CaptureQueriesContext(connection) as ctx:
                t = time.perf_counter()
                resp = dj.get(path)
                timings.append(time.perf_counter() - t)
            n = len(ctx.captured_queries)
            if resp.status_code != 200:
                raise SystemExit(f"{path} -> {resp.status_code} in-process")
        rows.append(
            {
                "scenario": name,
                "path": path,
                "queries": n,
                "ms": round(statistics.median(timings) * 1000, 1),
            }
        )
    connections.close_all()
    return rows


# --- main ---------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", help="default: $DATABASE_URL, else SQLite in the data dir")
    p.add_argument("--data-dir", help=f"default: $AFTERCARE_DATA_DIR, else {DEFAULT_DATA_DIR}")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--requests", type=int, default=200, help="samples per scenario (cap)")
    p.add_argument("--seconds", type=float, default=30, help="time per scenario (cap)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--deep", type=int, default=50, help="page reached by following Next")
    p.add_argument("--scenario", action="append", help="run only these (repeatable)")
    p.add_argument("--label", default="", help="stored with each JSON line")
    p.add_argument("--out", help="append one JSON line per scenario to this file")
    p.add_argument("--queries", action="store_true", help="also count SQL queries per page")
    p.add_argument("--helpdesk-data", help="a seeded django-helpdesk data dir (copied first)")
    p.add_argument("--helpdesk-venv", default="/tmp/peer/venv")
    p.add_argument(
        "--helpdesk-project",
        default=str(ROOT.parent / "shared" / "peers" / "django-helpdesk" / "hdproj"),
        help="default: ../shared/peers/django-helpdesk/hdproj beside the repository",
    )
    p.add_argument("--helpdesk-port", type=int, default=8766)
    p.add_argument("--helpdesk-seconds", type=float, default=30, help="per helpdesk scenario")
    p.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds for the paired scenarios"
    )
    return p.parse_args()


def print_table(rows: list[dict]) -> None:
    print()
    print("| target | scenario | samples | err | req/s | p50 ms | p95 ms | mean ms | max ms | KB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['target']} | {r['scenario']} | {r['samples']} | {r['errors']} | "
            f"{r['samples_per_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['mean_ms']} | "
            f"{r['max_ms']} | {r['kb']} |"
        )


def main() -> None:
    args = parse_args()
    env = aftercare_environment(args)
    os.environ.update({k: env[k] for k in ("AFTERCARE_DATA_DIR", "DEBUG")})
    if "DATABASE_URL" in env:
        os.environ["DATABASE_URL"] = env["DATABASE_URL"]
    os.environ["DJANGO_SETTINGS_MODULE"] = "aftercare.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    data_dir = Path(env["AFTERCARE_DATA_DIR"])
    seed_file = data_dir / "bench.json"
    seed_info = json.loads(seed_file.read_text()) if seed_file.exists() else {}
    seed_info.setdefault("staff_login", ["bench", "bench-pass-123"])
    seed_info.setdefault("coordinator_login", ["bench-coord", "bench-pass-123"])
    seed_info.setdefault("manager_login", ["bench-manager", "bench-pass-123"])
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    facts = load_fixture_facts(seed_info)
    scenarios = aftercare_scenarios(facts, args.deep)
    wanted = args.scenario or list(scenarios)
    unknown = [s for s in wanted if s not in scenarios]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; choose from {list(scenarios)}")
    label = args.label or f"{engine} {facts['tickets']}"
    print(f"Aftercare: {facts['tickets']} requests, {engine}, {args.workers} gunicorn workers")

    servers: list[subprocess.Popen] = []
    peer_tmp: str | None = None
    results: dict[tuple[str, str], Result] = {}
    load_before = os.getloadavg()
    try:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        cmd = [gunicorn, "aftercare.wsgi:application", "--bind", f"{HOST}:{args.port}"]
        cmd += ["--workers", str(args.workers), "--log-level", "warning"]
        servers.append(
            start_server(cmd, env, ROOT, args.port, data_dir / "gunicorn.log", "/accounts/login/")
        )
        staff = Client(args.port)
        staff.login("/accounts/login/", *facts["staff_login"], "/console/")
        coord = Client(args.port)
        coord.login("/accounts/login/", *facts["coordinator_login"], "/portal/")
        manager = None
        if any(name.startswith("dashboard") for name in (args.scenario or scenarios)):
            manager = Client(args.port)
            manager.login("/accounts/login/", *facts["manager_login"], "/console/dashboard/")

        peer = peer_client = None
        if args.helpdesk_data:
            src = Path(args.helpdesk_data)
            peer_info = json.loads((src / "seed.json").read_text())
            peer_tmp = tempfile.mkdtemp(prefix="helpdesk-run-")
            shutil.copytree(src, peer_tmp, dirs_exist_ok=True)
            penv = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE")}
            penv.pop("DATABASE_URL", None)
            penv.pop("DJANGO_SETTINGS_MODULE", None)
            penv["HD_DATA_DIR"] = peer_tmp
            pcmd = [str(Path(args.helpdesk_venv) / "bin" / "gunicorn")]
            pcmd += ["hdproj.wsgi:application", "--bind", f"{HOST}:{args.helpdesk_port}"]
            pcmd += ["--workers", str(args.workers), "--worker-class", "sync"]
            pcmd += ["--log-level", "warning"]
            servers.append(
                start_server(
                    pcmd,
                    penv,
                    Path(args.helpdesk_project),
                    args.helpdesk_port,
                    Path(peer_tmp) / "gunicorn.log",
                    "/login/",
                )
            )
            peer = helpdesk_scenarios(peer_info)
            peer_client = Client(args.helpdesk_port)
            peer_client.login(
                "/login/", peer_info["admin_user"], peer_info["admin_pass"], "/tickets/"
            )
            print(f"django-helpdesk: {peer_info['tickets']} tickets (copy in {peer_tmp})")

        paired = {a: h for a, h in PAIRS} if peer else {}
        for name in wanted:
            client = coord if name == "portal" else staff
            if name.startswith("dashboard"):
                client = manager
            fn = scenarios[name]
            rng = random.Random(11)
            res = results[("aftercare", name)] = Result("aftercare", name)
            for w in range(args.warmup):
                fn(client, -1 - w, rng)
            if name not in paired:
                print(f"  aftercare {name} ...", flush=True)
                measure(res, fn, client, args.requests, args.seconds, rng)
                continue
            hname = paired[name]
            hres = results[("helpdesk", hname)] = Result("django-helpdesk", hname)
            hrng = random.Random(11)
            for w in range(args.warmup):
                peer[hname](peer_client, -1 - w, hrng)
            # Alternate so both products see the same noise from the shared machine.
            for r in range(args.rounds):
                print(f"  round {r + 1}: aftercare {name} / helpdesk {hname} ...", flush=True)
                measure(
                    res,
                    fn,
                    client,
                    args.requests * (r + 1) // args.rounds,
                    args.seconds / args.rounds,
                    rng,
                    start_index=len(res.latencies) + res.errors,
                )
                measure(
                    hres,
                    peer[hname],
                    peer_client,
                    args.requests * (r + 1) // args.rounds,
                    args.helpdesk_seconds / args.rounds,
                    hrng,
                    start_index=len(hres.latencies) + hres.errors,
                )
        if peer and "queue" in wanted:
            print("  helpdesk list_data ...", flush=True)
            hres = results[("helpdesk", "list_data")] = Result("django-helpdesk", "list_data")
            measure(
                hres,
                peer["list_data"],
                peer_client,
                args.requests,
                args.helpdesk_seconds,
                random.Random(11),
            )
    finally:
        for proc in reversed(servers):
            stop_server(proc)
        if peer_tmp:
            shutil.rmtree(peer_tmp, ignore_errors=True)
    load_after = os.getloadavg()

    rows = [r.row() for r in results.values()]
    print(
        f"\n{label}; load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"({os.cpu_count()} CPUs)"
    )
    print_table(rows)
    by = {(r["target"], r["scenario"]): r for r in rows}
    ratios = []
    for a, h in PAIRS:
        ra, rh = by.get(("aftercare", a)), by.get(("django-helpdesk", h))
        if ra and rh and ra["p50_ms"] and rh["p50_ms"]:
            ratios.append((a, h, ra["p50_ms"], rh["p50_ms"], ra["p50_ms"] / rh["p50_ms"]))
    if ratios:
        print("\n| Aftercare | django-helpdesk | Aftercare p50 ms | helpdesk p50 ms | ratio |")
        print("|---|---|---|---|---|")
        for a, h, pa, ph, ratio in ratios:
            print(f"| {a} | {h} | {pa} | {ph} | {ratio:.3f} |")

    if args.queries:
        qrows = count_queries({k: scenarios[k] for k in wanted}, facts)
        print("\n| scenario | path | SQL queries | in-process ms |")
        print("|---|---|---|---|")
        for q in qrows:
            print(f"| {q['scenario']} | `{q['path']}` | {q['queries']} | {q['ms']} |")
    else:
        qrows = []

    if args.out:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with open(args.out, "a") as out:
            for r in rows:
                out.write(
                    json.dumps(
                        {
                            **r,
                            "label": label,
                            "engine": engine,
                            "tickets": facts["tickets"],
                            "workers": args.workers,
                            "at": stamp,
                            "loadavg": [round(load_before[0], 2), round(load_after[0], 2)],
                        }
                    )
                    + "\n"
                )
            for q in qrows:
                out.write(json.dumps({"kind": "queries", **q, "label": label, "at": stamp}) + "\n")


if __name__ == "__main__":
    main()
