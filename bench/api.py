"""Throughput and latency of the REST API under gunicorn, with 1 and 8 concurrent clients.

    .venv/bin/python bench/seed.py --tickets 100000            # once
    .venv/bin/python bench/api.py                              # Aftercare alone, ~4 minutes
    .venv/bin/python bench/api.py --target aftercare --target helpdesk \\
        --helpdesk-data /tmp/peer/data100k                     # side by side, ~12 minutes

Scenarios (``--scenario NAME[:CLIENTS]``, repeatable; default: all eight below, the
reads first so they see the database as seeded, then the writes):

    list x1, list x8     GET the list endpoint's first page
    filter x1            GET the list with a filter (rotating over ``--filter-query``)
    page2 x1             GET page 2 of the list (Aftercare: the ``next_cursor`` of page 1
                         passed back as ``after``; helpdesk: ``?page=2``)
    create x1, create x8 POST the create endpoint with a JSON body made from a template
    reply x1             POST a public reply to an existing request, rotating over open
                         requests picked from the database at start (Aftercare:
                         ``POST /api/v1/tickets/{number}/comments`` ``{"body"}`` on the
                         open requests outside the transition moves' source statuses, as a
                         reply raises a request's version; helpdesk: ``POST
                         /api/followups/`` ``{"ticket", "comment", "public": true}`` on the
                         Open and Reopened tickets)
    transition x1        Change one request's status, each picked request used once
                         (``--transition``; Aftercare: ``POST
                         /api/v1/tickets/{number}/transitions`` ``{"target", "version"}``,
                         default moves Backlog -> Sprint and Sprint -> Backlog, the ones the
                         L1 operator ``bench`` may make without a reason; helpdesk: a public
                         follow-up with ``new_status`` through ``POST /api/followups/``,
                         default Open (1) -> Resolved (3), which is what its staff "resolve"
                         does: a follow-up, a TicketChange and the submitter's e-mail. A
                         ``PATCH /api/tickets/{id}/`` would measure its O(all tickets)
                         ``get_queryset``, not the status change)

The requests ``reply`` and ``transition`` use are picked before the scenarios run (not
measured) from the database of a server this script starts: Aftercare's through its models
(only requests ``bench`` may see; for a transition also only those where the workflow
allows the move to ``bench`` and no pending approval blocks it, with their current
``version``), helpdesk's from its SQLite copy. ``--picks`` caps how many. A transition
pool is shared by all ``transition`` scenarios and rounds of a run (and their warm-ups);
when it is used up the clients stop early and the run says so: the request rate is then
over the shorter time. A 409 in a transition run means a pick was stale.

The load generator is plain Python threads, each with its own ``http.client`` connection
(re-opened when the server closes it, as gunicorn's sync workers do after every
response). Each scenario first sends ``--warmup`` requests from one client (at most
``--warmup-seconds``), then all clients start together and send requests back to back
for ``--seconds`` or until ``--count`` requests were sent, whichever comes first; a
request in flight at the deadline is waited for and counted. Reported per target and
scenario: requests/s (successful requests over the wall time), p50/p95/p99/mean/max
latency of the successful ones, and errors by kind (HTTP status, timeout, connection).
With Aftercare's worker running (``--followups worker``), each scenario ends when the
worker has expanded every follow-up it left (``drain_s``), so the next scenario, of any
target, does not share the machine with that backlog; ``req_per_s_drained`` counts the
scenario's requests over its time plus the drain: what the whole system sustains.
One JSON line per scenario (also appended to ``--out``) and a markdown table; with two
targets also a table of ratios (Aftercare / the other) from the same run.

Targets (``--target``, repeatable; each may be a server this script starts or one the
user runs):

``aftercare``
    Without ``--base-url`` the script starts ``gunicorn aftercare.wsgi:application
    --workers 2`` on a free loopback port against the seeded database (``--data-dir`` /
    ``--database-url``, as ``bench/seed.py`` and ``bench/console.py``), with
    ``AFTERCARE_API_RATE_LIMIT`` raised to ``--rate-limit`` (default 1,000,000 per
    minute: the production default of 600 per token per minute would turn most of the
    run into 429s). It issues a personal token for the ``bench`` operator
    (``aftercare.api.tokens.issue``), files requests on behalf of ``bench-coord`` in that
    coordinator's organisation, and revokes the token and stops the server at the end.
    On SQLite it works on a copy of the data directory (``--no-scratch`` to write to the
    seeded file), so the seeded database stays as it was, and migrates the copy first if
    the code has migrations the seeded file lacks; on PostgreSQL the created requests,
    replies and moves stay in the database (the count of requests is printed).
    With ``--base-url``: give ``--auth bearer:<secret>`` and ``--var organisation=<id>
    --var reporter=<id>`` (or ``--create-body``), and raise the server's rate limit.

``helpdesk`` (django-helpdesk 2.x, its DRF API under ``/api/``; ``HELPDESK_API_ENABLED``
    and ``rest_framework.authtoken`` must be on, as in the peer harness's ``hdproj``)
    With ``--helpdesk-data DIR`` (a data dir seeded by the harness's ``seed.py``) the
    script copies it to a temporary directory, starts the harness's project with the
    peer's own gunicorn (``--helpdesk-venv``, ``--helpdesk-project``, 2 sync workers)
    and uses the DRF token and queue from its ``seed.json``. With ``--base-url``: give
    ``--auth token:<key>`` (or ``basic:USER:PASS`` / ``session:USER:PASS``) and
    ``--var queue=<id>``. Its API needs an admin (``is_staff``) user.

``bare`` (create only: ``--scenario create:1 --scenario create:8``)
    The ceiling for this stack: ``bench/bare/``, a bare Django + django-ninja + SQLite
    project with one create endpoint (bearer token looked up, payload validated, a number
    allocated, the request, its first message and one event written in one transaction),
    same SQLite settings as Aftercare's embedded default, seeded with as many rows as the
    Aftercare target has (``--bare-rows``), served by its own gunicorn with ``--workers``.

``custom``
    Nothing is assumed: give ``--base-url``, ``--auth``, ``--create-path``,
    ``--create-body``, ``--list-path``, ``--filter-query`` and ``--page2`` (no ``reply``
    or ``transition``: nothing to pick the requests from).

Options that describe a target accept ``TARGET=VALUE`` to apply to one target only
(``--base-url helpdesk=http://127.0.0.1:8000``); a plain value applies to every target.
``--auth``: ``bearer:SECRET``, ``token:KEY`` (DRF's ``Authorization: Token``),
``basic:USER:PASS``, ``session:USER:PASS`` (signs in through ``--login-path`` and sends
the CSRF token on writes) or ``none``. ``--create-body`` is JSON in which ``{i}`` (a
running number), ``{run}`` (this run's id), ``{rand}`` and any ``--var NAME=VALUE`` are
replaced; so are ``{key}`` (the picked request's number or id), ``{version}`` and
``{target}`` in ``--reply-path``/``--reply-body``/``--transition-path``/
``--transition-body``. ``--transition``: ``SOURCE:TARGET[,SOURCE:TARGET...]`` (Aftercare
statuses, helpdesk status numbers). ``--page2``: ``cursor:FIELD:PARAM`` (read FIELD from
page 1, send it as PARAM), ``link:FIELD`` (follow the URL in FIELD) or ``query:QUERY``
(append QUERY).

Only loopback addresses are accepted as targets.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import ipaddress
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from console import (  # noqa: E402 - bench/ is not a package
    DEFAULT_DATA_DIR,
    ROOT,
    aftercare_environment,
    pct,
    start_server,
    stop_server,
)

HOST = "127.0.0.1"
TARGETS = ("aftercare", "helpdesk", "bare", "custom")
DEFAULT_SCENARIOS = [
    "list:1",
    "list:8",
    "filter:1",
    "page2:1",
    "create:1",
    "create:8",
    "reply:1",
    "transition:1",
]
SCENARIO_KINDS = ("list", "filter", "page2", "create", "reply", "transition")

AFTERCARE_BODY = json.dumps(
    {
        "organisation": "{organisation}",
        "reporter": "{reporter}",
        "subject": "API load test {run}-{i}: printer offline",
        "description": "The printer on floor 3 shows offline since this morning. " * 3,
        "category": "incident",
        "priority": 3,
    }
)
HELPDESK_BODY = json.dumps(
    {
        "queue": "{queue}",
        "title": "API load test {run}-{i}: printer offline",
        "description": "The printer on floor 3 shows offline since this morning. " * 3,
        "submitter_email": "load{rand}@customer.test",
        "priority": 3,
    }
)
REPLY_TEXT = "API load test {run}-{i}: please restart the printer and tell us if it helps. " * 2
# helpdesk's follow-up takes no title here: `update_ticket` would rename the ticket to it.
HELPDESK_REPLY_BODY = json.dumps({"ticket": "{key}", "comment": REPLY_TEXT, "public": True})
HELPDESK_TRANSITION_BODY = json.dumps(
    {"ticket": "{key}", "new_status": "{target}", "comment": "", "public": True}
)

# What each target means by the scenarios when nothing is given on the command line. The
# list page is 25 rows for both products (helpdesk's fixed page size; Aftercare's default
# is 50, asked down with `limit`). The filter is one status at a time, rotating over four.
PRESETS: dict[str, dict] = {
    "aftercare": {
        "create_path": "/api/v1/tickets",
        "create_body": AFTERCARE_BODY,
        "list_path": "/api/v1/tickets?limit=25",
        "filter_query": [
            "status=waiting",
            "status=in_progress",
            "status=backlog",
            "status=done",
        ],
        "page2": "cursor:next_cursor:after",
        "reply_path": "/api/v1/tickets/{key}/comments",
        "reply_body": json.dumps({"body": REPLY_TEXT}),
        "transition_path": "/api/v1/tickets/{key}/transitions",
        "transition_body": json.dumps({"target": "{target}", "version": "{version}"}),
        # Plan into the sprint and back: the moves an L1 operator makes without a reason.
        "transition": "backlog:sprint,sprint:backlog",
        "login_path": "/accounts/login/",
        "ready_path": "/accounts/login/",
    },
    "helpdesk": {
        "create_path": "/api/tickets/",
        "create_body": HELPDESK_BODY,
        "list_path": "/api/tickets/",
        "filter_query": ["status=1", "status=2", "status=3", "status=4"],
        "page2": "query:page=2",
        "reply_path": "/api/followups/",
        "reply_body": HELPDESK_REPLY_BODY,
        "transition_path": "/api/followups/",
        "transition_body": HELPDESK_TRANSITION_BODY,
        "transition": "1:3",  # Open -> Resolved
        "transition_status": 201,
        "login_path": "/login/",
        "ready_path": "/login/",
    },
    # The ceiling for the stack: bare Django + django-ninja + SQLite (bench/bare/), create only.
    "bare": {
        "create_path": "/api/tickets",
        "create_body": AFTERCARE_BODY,
        "list_path": None,
        "filter_query": [],
        "page2": None,
        "reply_path": None,
        "reply_body": None,
        "transition_path": None,
        "transition_body": None,
        "transition": "",
        "login_path": "/api/ready",
        "ready_path": "/api/ready",
    },
    "custom": {
        "create_path": None,
        "create_body": None,
        "list_path": None,
        "filter_query": [],
        "page2": None,
        "reply_path": None,
        "reply_body": None,
        "transition_path": None,
        "transition_body": None,
        "transition": "",
        "login_path": "/accounts/login/",
        "ready_path": "/",
    },
}
PER_TARGET_OPTIONS = (
    "base_url",
    "auth",
    "create_path",
    "create_body",
    "list_path",
    "filter_query",
    "page2",
    "reply_path",
    "reply_body",
    "transition_path",
    "transition_body",
    "transition",
    "login_path",
    "var",
)


# --- HTTP: one connection per client thread ---------------------------------------------


class Auth:
    """Headers that authenticate a request; ``session`` signs in once and shares cookies."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        kind, _sep, rest = spec.partition(":")
        self.kind = kind.lower()
        self.headers: dict[str, str] = {}
        self.cookies: dict[str, str] = {}
        if self.kind == "bearer":
            self.headers["Authorization"] = f"Bearer {rest}"
        elif self.kind == "token":
            self.headers["Authorization"] = f"Token {rest}"
        elif self.kind == "basic":
            self.headers["Authorization"] = "Basic " + base64.b64encode(rest.encode()).decode()
        elif self.kind == "session":
            self.user, _sep, self.password = rest.partition(":")
        elif self.kind != "none":
            raise SystemExit(f"--auth {spec!r}: use bearer:, token:, basic:, session: or none")

    def describe(self) -> str:
        return {"bearer": "Bearer token", "token": "DRF Token", "basic": "HTTP Basic"}.get(
            self.kind, self.kind
        )

    def sign_in(self, base: str, login_path: str) -> None:
        if self.kind != "session":
            return
        client = Connection(base, Auth("none"), timeout=60)
        status, _headers, body = client.request("GET", login_path, raw=True)
        if status != 200:
            raise SystemExit(f"GET {login_path} -> {status}: cannot sign in")
        client.take_cookies(self.cookies)
        m = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        token = m.group(1).decode() if m else self.cookies.get("csrftoken", "")
        form = urlencode(
            {"username": self.user, "password": self.password, "csrfmiddlewaretoken": token}
        ).encode()
        status, _headers, _body = client.request(
            "POST",
            login_path,
            body=form,
            content_type="application/x-www-form-urlencoded",
            extra={"Referer": base + login_path, "Cookie": cookie_header(self.cookies)},
            raw=True,
        )
        client.take_cookies(self.cookies)
        if status != 302:
            raise SystemExit(f"sign-in as {self.user} at {login_path} failed: HTTP {status}")

    def for_request(self, method: str, base: str) -> dict[str, str]:
        headers = dict(self.headers)
        if self.cookies:
            headers["Cookie"] = cookie_header(self.cookies)
            if method not in ("GET", "HEAD") and "csrftoken" in self.cookies:
                headers["X-CSRFToken"] = self.cookies["csrftoken"]
                headers["Referer"] = base + "/"
        return headers


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def check_loopback(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise SystemExit(f"{url}: only http:// URLs on this machine are supported")
    for info in socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP):
        if not ipaddress.ip_address(info[4][0]).is_loopback:
            raise SystemExit(f"{url}: not a loopback address; this benchmark only loads localhost")
    return parts.hostname, parts.port or 80


class Connection:
    """One keep-alive connection, re-opened when the server closes it."""

    def __init__(self, base: str, auth: Auth, timeout: float) -> None:
        self.base = base.rstrip("/")
        self.host, self.port = check_loopback(self.base)
        self.prefix = urlsplit(self.base).path.rstrip("/")
        self.auth = auth
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.last_headers: list[tuple[str, str]] = []

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        extra: dict[str, str] | None = None,
        raw: bool = False,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {"Host": f"{self.host}:{self.port}", "Accept": "application/json"}
        if not raw:
            headers.update(self.auth.for_request(method, self.base))
        if body is not None:
            headers["Content-Type"] = content_type
        headers.update(extra or {})
        for attempt in (0, 1):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, self.prefix + path, body=body, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if reused and attempt == 0:
                    continue  # the server had closed an idle keep-alive connection
                raise
            except BaseException:
                self.close()
                raise
            if resp.will_close:
                self.close()
            self.last_headers = resp.getheaders()
            return resp.status, self.last_headers, payload
        raise AssertionError("unreachable")

    def take_cookies(self, jar: dict[str, str]) -> None:
        for name, value in self.last_headers:
            if name.lower() == "set-cookie":
                c = SimpleCookie()
                c.load(value)
                jar.update({k: m.value for k, m in c.items()})


# --- targets ------------------------------------------------------------------------------


class Exhausted(Exception):
    """The transition pool is used up: the client stops."""


class Picks:
    """The requests ``reply`` rotates over and the moves ``transition`` makes (each once)."""

    def __init__(self, replies: list[str], moves: list[dict[str, str]]) -> None:
        self.replies = replies
        self.moves = moves
        self._lock = threading.Lock()
        self._used = 0

    def reply(self, i: int) -> dict[str, str]:
        if not self.replies:
            raise SystemExit("no open request to reply to was found")
        return {"key": self.replies[i % len(self.replies)]}

    def move(self) -> dict[str, str]:
        with self._lock:
            if self._used >= len(self.moves):
                raise Exhausted
            self._used += 1
            return self.moves[self._used - 1]

    def left(self) -> int:
        with self._lock:
            return len(self.moves) - self._used

    def describe(self) -> dict:
        sources = Counter(f"{m['source']}->{m['target']}" for m in self.moves)
        return {"reply_pool": len(self.replies), "transition_pool": dict(sources)}


def parse_moves(spec: str) -> dict[str, str]:
    """``SOURCE:TARGET[,SOURCE:TARGET...]`` as {source: target}."""
    moves = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        source, sep, target = part.partition(":")
        if not sep or not source or not target:
            raise SystemExit(f"--transition {spec!r}: use SOURCE:TARGET[,SOURCE:TARGET...]")
        moves[source] = target
    return moves


@dataclass
class Target:
    name: str
    base_url: str
    auth: Auth
    create_path: str | None
    create_body: str | None
    list_path: str | None
    filter_query: list[str]
    page2: str | None
    login_path: str
    reply_path: str | None = None
    reply_body: str | None = None
    transition_path: str | None = None
    transition_body: str | None = None
    transition: str = ""
    transition_status: int = 200  # helpdesk answers a follow-up with 201
    variables: dict[str, str] = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # what is reported about the server
    page2_path: str | None = None
    picks: Picks | None = None

    def fill(
        self, template: str, i: int, rng: random.Random, extra: dict[str, str] | None = None
    ) -> str:
        values = {**self.variables, "i": str(i), "rand": str(rng.randint(1, 10_000))}
        values.update(extra or {})

        def sub(m: re.Match) -> str:
            return values.get(m.group(1), m.group(0))

        # "{organisation}" as a JSON string becomes a number when the value is one.
        text = re.sub(r'"\{(\w+)\}"', lambda m: json_value(values.get(m.group(1))), template)
        return re.sub(r"\{(\w+)\}", sub, text)

    def list_url(self, query: str) -> str:
        path = self.list_path or ""
        return path + ("&" if "?" in path else "?") + query

    def resolve_page2(self, timeout: float) -> None:
        """Work out the URL of page 2 once, before the scenario (not measured)."""
        if not self.page2 or not self.list_path:
            raise SystemExit(f"{self.name}: --page2 and --list-path are needed for page2")
        kind, _sep, rest = self.page2.partition(":")
        if kind == "query":
            self.page2_path = self.list_url(rest)
            return
        client = Connection(self.base_url, self.auth, timeout)
        status, _h, body = client.request("GET", self.list_path)
        client.close()
        if status != 200:
            raise SystemExit(f"{self.name}: GET {self.list_path} -> {status}")
        data = json.loads(body)
        if kind == "cursor":
            fld, _sep, param = rest.partition(":")
            cursor = data.get(fld)
            if not cursor:
                raise SystemExit(f"{self.name}: page 1 has no {fld!r}: the list has one page")
            self.page2_path = self.list_url(urlencode({param or "after": cursor}))
        elif kind == "link":
            link = data.get(rest)
            if not link:
                raise SystemExit(f"{self.name}: page 1 has no {rest!r} link")
            parts = urlsplit(link)
            self.page2_path = parts.path + (f"?{parts.query}" if parts.query else "")
        else:
            raise SystemExit(f"--page2 {self.page2!r}: use cursor:, link: or query:")

    def operation(self, kind: str) -> tuple[Callable, int]:
        """(a function that sends one request and returns its status and body, the status
        a success has)."""
        if kind == "create":
            if not self.create_path or not self.create_body:
                raise SystemExit(f"{self.name}: --create-path and --create-body are needed")

            def create(c: Connection, i: int, rng: random.Random) -> tuple[int, bytes]:
                body = self.fill(self.create_body, i, rng).encode()
                status, _h, payload = c.request("POST", self.create_path, body=body)
                return status, payload

            return create, 201
        if kind == "list":
            if not self.list_path:
                raise SystemExit(f"{self.name}: --list-path is needed")
            return (lambda c, i, rng: c.request("GET", self.list_path)[::2]), 200
        if kind == "filter":
            if not self.filter_query:
                raise SystemExit(f"{self.name}: --filter-query is needed")
            queries = [self.list_url(q) for q in self.filter_query]
            return (lambda c, i, rng: c.request("GET", queries[i % len(queries)])[::2]), 200
        if kind == "page2":
            return (lambda c, i, rng: c.request("GET", self.page2_path)[::2]), 200
        if kind in ("reply", "transition"):
            path = getattr(self, f"{kind}_path")
            template = getattr(self, f"{kind}_body")
            if not path or not template:
                raise SystemExit(f"{self.name}: no {kind} scenario (--{kind}-path, --{kind}-body)")
            picks = self.picks
            if picks is None:
                raise SystemExit(
                    f"{self.name}: {kind} needs requests picked from the database of a server "
                    "this script starts (aftercare or helpdesk without --base-url)"
                )

            def write(c: Connection, i: int, rng: random.Random) -> tuple[int, bytes]:
                pick = picks.reply(i) if kind == "reply" else picks.move()
                body = self.fill(template, i, rng, pick).encode()
                status, _h, payload = c.request("POST", self.fill(path, i, rng, pick), body=body)
                return status, payload

            return write, self.transition_status if kind == "transition" else 201
        raise SystemExit(f"unknown scenario {kind!r}; choose from {SCENARIO_KINDS}")


def json_value(value: str | None) -> str:
    if value is None:
        return "null"
    try:
        return json.dumps(json.loads(value))  # numbers, true/false, quoted strings
    except ValueError:
        return json.dumps(value)


def per_target(values: list[str] | None, target: str) -> list[str]:
    """The values of a repeatable ``[TARGET=]VALUE`` option that apply to ``target``."""
    out = []
    for v in values or []:
        name, sep, rest = v.partition("=")
        if sep and name in TARGETS:
            if name == target:
                out.append(rest)
        else:
            out.append(v)
    return out


def one(values: list[str] | None, target: str, default):
    found = per_target(values, target)
    return found[-1] if found else default


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def build_target(name: str, args: argparse.Namespace) -> Target:
    preset = PRESETS[name]
    variables = dict(v.partition("=")[::2] for v in per_target(args.var, name))
    filters = per_target(args.filter_query, name) or list(preset["filter_query"])
    return Target(
        name=name,
        base_url=one(args.base_url, name, ""),
        auth=Auth(one(args.auth, name, "none")),
        create_path=one(args.create_path, name, preset["create_path"]),
        create_body=one(args.create_body, name, preset["create_body"]),
        list_path=one(args.list_path, name, preset["list_path"]),
        filter_query=filters,
        page2=one(args.page2, name, preset["page2"]),
        login_path=one(args.login_path, name, preset["login_path"]),
        reply_path=one(args.reply_path, name, preset["reply_path"]),
        reply_body=one(args.reply_body, name, preset["reply_body"]),
        transition_path=one(args.transition_path, name, preset["transition_path"]),
        transition_body=one(args.transition_body, name, preset["transition_body"]),
        transition=one(args.transition, name, preset["transition"]),
        transition_status=int(
            one(args.transition_status, name, preset.get("transition_status", 200))
        ),
        variables={"run": args.run_id, **variables},
    )


# --- Aftercare: its own server, token and facts -----------------------------------------


class AftercareServer:
    """gunicorn against the seeded database, and a token for the ``bench`` operator."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.proc: subprocess.Popen | None = None
        self.scratch: str | None = None
        self.token = None
        self.engine = ""
        self.tickets_before = 0
        self.worker: subprocess.Popen | None = None
        self.data_dir: Path | None = None

    def start(self, target: Target) -> None:
        args = self.args
        env = aftercare_environment(args)
        data_dir = Path(env["AFTERCARE_DATA_DIR"])
        seed_file = data_dir / "bench.json"
        if not seed_file.exists():
            raise SystemExit(f"{seed_file} not found: run bench/seed.py first")
        seed = json.loads(seed_file.read_text())
        sqlite = "DATABASE_URL" not in env
        if sqlite and args.scratch:
            self.scratch = tempfile.mkdtemp(prefix="aftercare-api-")
            shutil.copytree(
                data_dir,
                self.scratch,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("gunicorn.log", "*.jsonl"),
            )
            env["AFTERCARE_DATA_DIR"] = self.scratch
            data_dir = Path(self.scratch)
        env["AFTERCARE_API_RATE_LIMIT"] = str(args.rate_limit)
        env["AFTERCARE_FOLLOWUPS"] = args.followups
        self.data_dir = data_dir
        for key in ("AFTERCARE_DATA_DIR", "DEBUG", "DATABASE_URL", "AFTERCARE_API_RATE_LIMIT"):
            if key in env:
                os.environ[key] = env[key]
        os.environ["DJANGO_SETTINGS_MODULE"] = "aftercare.settings"
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.conf import settings
        from django.db import connections
        from django_scopes import scopes_disabled

        from aftercare.accounts.models import User
        from aftercare.api import tokens
        from aftercare.desk.models import Ticket
        from aftercare.tenancy.models import Membership

        self.engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        if self.scratch:
            self.migrate()
        with scopes_disabled():
            staff = User.objects.get(username=seed.get("staff_login", ["bench"])[0])
            coord = User.objects.get(username=seed.get("coordinator_login", ["bench-coord"])[0])
            org = Membership.objects.filter(user=coord).values_list("organisation", flat=True)[0]
            self.tickets_before = Ticket.objects.count()
            if args.pick:
                target.picks = self.pick(staff, target)
            self.token, secret = tokens.issue(user=staff, name=f"bench/api.py {args.run_id}")
        connections.close_all()
        target.auth = Auth(f"bearer:{secret}")
        target.variables.setdefault("organisation", str(org))
        target.variables.setdefault("reporter", str(coord.pk))

        port = args.port or free_port()
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        cmd = [gunicorn, "aftercare.wsgi:application", "--bind", f"{HOST}:{port}"]
        cmd += ["--workers", str(args.workers), "--log-level", "warning"]
        cmd += ["--timeout", str(args.gunicorn_timeout)]
        self.proc = start_server(
            cmd, env, ROOT, port, data_dir / "gunicorn.log", PRESETS["aftercare"]["ready_path"]
        )
        if args.followups == "worker":
            # The worker expands what each change owes others (receipt mails, notices,
            # webhook rows, the search index) on the same two cores, as in production.
            with (data_dir / "worker.log").open("ab") as out:
                self.worker = subprocess.Popen(  # noqa: S603 - fixed argv
                    [sys.executable, str(ROOT / "manage.py"), "run_huey", "--workers", "2"]
                    + ["--worker-type", "thread", "--delay", "0.05", "--max-delay", "0.5"],
                    cwd=ROOT,
                    env={**env, "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        target.base_url = f"http://{HOST}:{port}"
        target.info = {
            "server": "own gunicorn",
            "engine": self.engine,
            "tickets": self.tickets_before,
            "workers": args.workers,
            "rate_limit": args.rate_limit,
            "scratch_copy": bool(self.scratch),
            "auth": "Bearer token of `bench` (L1 operator)",
            "followups": args.followups,
            **(target.picks.describe() if target.picks else {}),
        }
        print(
            f"aftercare: {self.tickets_before} requests, {self.engine}"
            f"{' (scratch copy ' + self.scratch + ')' if self.scratch else ''}, "
            f"gunicorn {args.workers} workers on port {port}, "
            f"AFTERCARE_API_RATE_LIMIT={args.rate_limit}",
            flush=True,
        )

    def migrate(self) -> None:
        """Bring the scratch copy up to the code's migrations (a database seeded before
        the latest migration would answer every write with a 503); the seeded file is left
        as it is."""
        from django.core.management import call_command
        from django.db import connection
        from django.db.migrations.executor import MigrationExecutor

        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            names = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in plan)
            print(f"aftercare: migrating the scratch copy ({names})", flush=True)
            call_command("migrate", interactive=False, verbosity=0)

    def pick(self, staff, target: Target) -> Picks:
        """The open requests ``bench`` replies to, and the moves it may make (with each
        request's current version), from the database before the run (not measured)."""
        from aftercare.accounts.roles import PermSet
        from aftercare.desk import workflow
        from aftercare.desk.approvals import blocking
        from aftercare.desk.models import OPEN_STATUSES, Approval, Status
        from aftercare.desk.querysets import visible_tickets

        began = time.monotonic()
        limit = self.args.picks
        moves = parse_moves(target.transition)
        unknown = set(moves.items()) - {(s, t) for s in Status.values for t in Status.values}
        if unknown:
            raise SystemExit(f"--transition: unknown status in {sorted(unknown)}")
        permset = PermSet(staff)
        base_roles = permset.staff_roles if permset.is_agent else frozenset()
        visible = visible_tickets(permset).order_by("pk")
        # A reply raises the request's version: keep it off the requests a move will use.
        replies = list(
            visible.filter(status__in=[s for s in OPEN_STATUSES if s not in moves]).values_list(
                "number", flat=True
            )[:limit]
        )
        candidates = visible.filter(status__in=list(moves))
        # Only a request with an approval for a move's target can be blocked by one.
        asked = set(
            Approval.objects.with_scopes_disabled()
            .filter(ticket__in=candidates, target_status__in=list(moves.values()))
            .values_list("ticket_id", flat=True)
        )
        picked: list[dict[str, str]] = []
        for ticket in candidates.iterator():
            if len(picked) >= limit:
                break
            to = moves[ticket.status]
            # A visible request gives an agent at least its staff roles; ask for the rest
            # (whether bench did the work) only when those do not allow the move.
            rule = workflow.rule_for(ticket.status, to)
            roles = base_roles
            if rule is None or not rule.roles & roles:
                roles = permset.ticket_roles(ticket)
            try:
                workflow.check(ticket.status, to, roles)
            except workflow.TransitionError:
                continue
            if ticket.pk in asked and blocking(ticket, to) is not None:
                continue
            picked.append(
                {
                    "key": ticket.number,
                    "version": str(ticket.version),
                    "source": ticket.status,
                    "target": to,
                }
            )
        random.Random(0).shuffle(picked)  # the moves mixed alike in every scenario
        picks = Picks(replies, picked)
        print(
            f"aftercare: picked {len(replies)} requests to reply to and {len(picked)} moves "
            f"({', '.join(f'{k} {v}' for k, v in picks.describe()['transition_pool'].items())})"
            f" in {time.monotonic() - began:.1f} s",
            flush=True,
        )
        return picks

    def wait_drained(self, timeout: float = 600) -> tuple[float, int]:
        """Wait until the worker has expanded every follow-up so far: (seconds, left)."""
        from django.db import connections
        from django_scopes import scopes_disabled

        from aftercare.desk.models import Followup

        began = time.monotonic()
        with scopes_disabled():
            left = Followup.objects.count()
            while left and time.monotonic() - began < timeout and self.worker.poll() is None:
                time.sleep(0.1)
                left = Followup.objects.count()
        connections.close_all()
        return time.monotonic() - began, left

    def drain(self, timeout: float = 600) -> None:
        """Wait for the worker to expand every follow-up the run left, and say how long."""
        if self.worker is None:
            return
        try:
            seconds, left = self.wait_drained(timeout)
        except BaseException:
            stop_server(self.worker)
            self.worker = None
            raise
        print(
            f"aftercare: follow-ups drained {seconds:.1f} s after the last request"
            + (f"; {left} still pending (see worker.log)" if left else ""),
            flush=True,
        )
        stop_server(self.worker)
        self.worker = None

    def stop(self) -> None:
        stop_server(self.proc)
        self.proc = None
        try:
            self.drain()
        finally:
            self._revoke_and_clean()

    def _revoke_and_clean(self) -> None:
        if self.token is not None:
            from django.db import connections
            from django_scopes import scopes_disabled

            from aftercare.api import tokens
            from aftercare.desk.models import Ticket

            with scopes_disabled():
                after = Ticket.objects.count()
                tokens.revoke(token=self.token)
            connections.close_all()
            kept = "deleted with the scratch copy" if self.scratch else "kept in the database"
            print(f"aftercare: {after - self.tickets_before} requests filed by the run ({kept})")
            self.token = None
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


# --- django-helpdesk: the peer harness's project on a copy of its seeded database --------


class HelpdeskServer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.proc: subprocess.Popen | None = None
        self.tmp: str | None = None

    def start(self, target: Target) -> None:
        args = self.args
        src = Path(args.helpdesk_data)
        info = json.loads((src / "seed.json").read_text())
        self.tmp = tempfile.mkdtemp(prefix="helpdesk-api-")
        shutil.copytree(src, self.tmp, dirs_exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE")}
        for key in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH"):
            env.pop(key, None)
        env["HD_DATA_DIR"] = self.tmp
        port = args.helpdesk_port or free_port()
        cmd = [str(Path(args.helpdesk_venv) / "bin" / "gunicorn")]
        cmd += ["hdproj.wsgi:application", "--bind", f"{HOST}:{port}"]
        cmd += ["--workers", str(args.workers), "--worker-class", "sync"]
        cmd += ["--log-level", "warning", "--timeout", str(args.gunicorn_timeout)]
        self.proc = start_server(
            cmd,
            env,
            Path(args.helpdesk_project),
            port,
            Path(self.tmp) / "gunicorn.log",
            PRESETS["helpdesk"]["ready_path"],
        )
        target.base_url = f"http://{HOST}:{port}"
        if target.auth.kind == "none":
            target.auth = Auth(f"token:{info['token']}")
        target.variables.setdefault("queue", str(info["queues"]["support"]))
        if args.pick:
            target.picks = self.pick(target, info)
        target.info = {
            "server": "own gunicorn (peer harness hdproj)",
            "engine": "sqlite3",
            "tickets": info["tickets"],
            "workers": args.workers,
            "auth": f"{target.auth.describe()} of `{info['admin_user']}` (superuser)",
            **(target.picks.describe() if target.picks else {}),
        }
        print(
            f"helpdesk: {info['tickets']} tickets (copy in {self.tmp}), "
            f"gunicorn {args.workers} workers on port {port}",
            flush=True,
        )

    def pick(self, target: Target, info: dict) -> Picks:
        """Open/Reopened tickets to reply to, and tickets in each move's source status (read
        from the copy before the run; the API needs no version)."""
        limit = self.args.picks
        moves = parse_moves(target.transition)
        db = sqlite3.connect(Path(self.tmp or "") / "db.sqlite3")
        try:
            ids = "id BETWEEN ? AND ?"
            span = (info["min_id"], info["max_id"])
            replies = [
                str(r[0])
                for r in db.execute(
                    f"SELECT id FROM helpdesk_ticket WHERE status IN (1, 2) AND {ids} "  # noqa: S608
                    "ORDER BY id LIMIT ?",
                    (*span, limit),
                )
            ]
            picked = []
            for source, to in moves.items():
                rows = db.execute(
                    f"SELECT id FROM helpdesk_ticket WHERE status = ? AND {ids} "  # noqa: S608
                    "ORDER BY id LIMIT ?",
                    (int(source), *span, limit),
                )
                picked += [
                    {"key": str(r[0]), "version": "", "source": source, "target": to} for r in rows
                ]
        finally:
            db.close()
        random.Random(0).shuffle(picked)
        picked = picked[:limit]
        picks = Picks(replies, picked)
        print(
            f"helpdesk: picked {len(replies)} tickets to reply to and {len(picked)} moves "
            f"({', '.join(f'{k} {v}' for k, v in picks.describe()['transition_pool'].items())})",
            flush=True,
        )
        return picks

    def stop(self) -> None:
        stop_server(self.proc)
        self.proc = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


class BareServer:
    """bench/bare: the same create on bare Django + django-ninja + SQLite, seeded with
    ``--bare-rows`` requests (default: as many as the Aftercare target has, else 100k)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.proc: subprocess.Popen | None = None
        self.tmp: str | None = None

    def start(self, target: Target, rows: int) -> None:
        args = self.args
        self.tmp = tempfile.mkdtemp(prefix="bare-api-")
        cwd = ROOT / "bench" / "bare"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE")}
        for key in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE"):
            env.pop(key, None)
        env["BARE_DATA_DIR"] = self.tmp
        env["PYTHONPATH"] = str(cwd)
        made = subprocess.run(
            [sys.executable, "-m", "bareproj.setup", "--rows", str(rows)],
            cwd=cwd,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        info = json.loads(made.stdout.strip().splitlines()[-1])
        port = free_port()
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        cmd = [gunicorn, "bareproj.wsgi:application", "--bind", f"{HOST}:{port}"]
        cmd += ["--workers", str(args.workers), "--log-level", "warning"]
        cmd += ["--timeout", str(args.gunicorn_timeout)]
        self.proc = start_server(
            cmd, env, cwd, port, Path(self.tmp) / "gunicorn.log", PRESETS["bare"]["ready_path"]
        )
        target.base_url = f"http://{HOST}:{port}"
        target.auth = Auth(f"bearer:{info['token']}")
        target.variables.setdefault("organisation", str(info["organisation"]))
        target.variables.setdefault("reporter", str(info["reporter"]))
        target.info = {
            "server": "own gunicorn (bench/bare)",
            "engine": "sqlite3",
            "tickets": info["tickets"],
            "workers": args.workers,
            "auth": "Bearer token",
        }
        print(
            f"bare: {info['tickets']} rows (in {self.tmp}), gunicorn {args.workers} workers "
            f"on port {port}",
            flush=True,
        )

    def stop(self) -> None:
        stop_server(self.proc)
        self.proc = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


# --- the load generator -----------------------------------------------------------------


@dataclass
class Result:
    target: str
    scenario: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    warmup: int = 0
    load: tuple[float, float] = (0.0, 0.0)
    drain_s: float | None = None  # Aftercare's worker: follow-ups left after the last response

    def row(self) -> dict:
        s = sorted(self.latencies)

        def ms(v: float | None) -> float | None:
            return None if v is None else round(v * 1000, 1)

        return {
            "target": self.target,
            "scenario": f"{self.scenario} x{self.clients}",
            "kind": self.scenario,
            "clients": self.clients,
            "ok": len(s),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "seconds": round(self.seconds, 2),
            "req_per_s": rate(len(s), self.seconds),
            "p50_ms": ms(pct(s, 50)),
            "p95_ms": ms(pct(s, 95)),
            "p99_ms": ms(pct(s, 99)),
            "mean_ms": ms(statistics.fmean(s)) if s else None,
            "max_ms": ms(s[-1] if s else None),
            "warmup": self.warmup,
            "loadavg": [round(self.load[0], 2), round(self.load[1], 2)],
            **(
                {
                    "drain_s": round(self.drain_s, 2),
                    # every follow-up expanded: what the whole system sustains
                    "req_per_s_drained": rate(len(s), self.seconds + self.drain_s),
                }
                if self.drain_s is not None
                else {}
            ),
        }


def rate(n: int, seconds: float) -> float | None:
    """Requests per second, with enough digits to compare a slow target's figure."""
    if not seconds:
        return None
    r = n / seconds
    return round(r, 2) if r >= 10 else float(f"{r:.3g}")


class Sequence:
    """A thread-safe running number (the ``{i}`` of the body template)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._n = 0

    def next(self) -> int:
        with self._lock:
            self._n += 1
            return self._n


def send(
    op: Callable, expect: int, conn: Connection, i: int, rng: random.Random, res: Result | None
) -> bool:
    t = time.perf_counter()
    try:
        status, payload = op(conn, i, rng)
    except TimeoutError:
        kind, payload = "timeout", b""
    except (OSError, http.client.HTTPException) as exc:
        kind = type(exc).__name__
        payload = str(exc).encode()
    else:
        if status == expect:
            if res is not None:
                res.latencies.append(time.perf_counter() - t)
            return True
        kind = f"HTTP {status}"
    if res is not None:
        res.errors[kind] += 1
        if sum(res.errors.values()) <= 3:
            detail = payload[:200].decode("utf-8", "replace")
            print(
                f"    [{res.target} {res.scenario} x{res.clients}] {kind} {detail}", file=sys.stderr
            )
    return False


def run_scenario(
    target: Target, kind: str, clients: int, args: argparse.Namespace, seq: Sequence
) -> Result:
    op, expect = target.operation(kind)
    res = Result(target.name, kind, clients)
    rng = random.Random(f"{target.name}-{kind}-{clients}")
    load_before = os.getloadavg()[0]

    # Warm-up: one client, a few requests or a few seconds, not counted.
    warm = Connection(target.base_url, target.auth, args.timeout)
    t_end = time.perf_counter() + args.warmup_seconds
    exhausted = [False]
    for _ in range(args.warmup):
        if time.perf_counter() >= t_end:
            break
        try:
            send(op, expect, warm, seq.next(), rng, None)
        except Exhausted:
            exhausted[0] = True
            break
        res.warmup += 1
    warm.close()

    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    sent = [0]
    deadline = [0.0]
    ends: list[float] = []

    def client(k: int) -> None:
        conn = Connection(target.base_url, target.auth, args.timeout)
        crng = random.Random(f"{rng.random()}-{k}")
        mine = Result(res.target, res.scenario, res.clients)
        barrier.wait()
        while time.perf_counter() < deadline[0] and not exhausted[0]:
            with lock:
                if args.count and sent[0] >= args.count:
                    break
                sent[0] += 1
            try:
                send(op, expect, conn, seq.next(), crng, mine)
            except Exhausted:
                exhausted[0] = True
        conn.close()
        with lock:
            res.latencies.extend(mine.latencies)
            res.errors.update(mine.errors)
            ends.append(time.perf_counter())

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for th in threads:
        th.start()
    began = time.perf_counter()
    deadline[0] = began + args.seconds
    barrier.wait()
    for th in threads:
        th.join()
    res.seconds = max(ends) - began
    res.load = (load_before, os.getloadavg()[0])
    if exhausted[0]:
        print(
            f"    [{res.target} {res.scenario} x{res.clients}] the transition pool is used up: "
            f"stopped after {res.seconds:.1f} s (--picks, or a database with more requests "
            "in the moves' source statuses)",
            file=sys.stderr,
        )
    return res


# --- main ---------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--target", action="append", choices=TARGETS, help="default: aftercare")
    p.add_argument("--scenario", action="append", help="NAME[:CLIENTS], repeatable")
    p.add_argument("--seconds", type=float, default=25, help="per scenario and target")
    p.add_argument("--count", type=int, default=0, help="requests per scenario (0: no cap)")
    p.add_argument("--warmup", type=int, default=5, help="warm-up requests (one client)")
    p.add_argument("--warmup-seconds", type=float, default=5, help="cap on the warm-up time")
    p.add_argument("--timeout", type=float, default=180, help="client timeout per request")
    p.add_argument("--rounds", type=int, default=1, help="repeat the scenario list N times")
    p.add_argument("--label", default="", help="stored with each JSON line")
    p.add_argument("--out", help="append one JSON line per scenario to this file")
    # what a target is (each accepts TARGET=VALUE)
    p.add_argument("--base-url", action="append", help="a running server (else one is started)")
    p.add_argument("--auth", action="append", help="bearer:S | token:K | basic:U:P | session:U:P")
    p.add_argument("--create-path", action="append")
    p.add_argument("--create-body", action="append", help="JSON template ({i} {run} {rand} vars)")
    p.add_argument("--list-path", action="append")
    p.add_argument("--filter-query", action="append", help="repeatable; rotated per request")
    p.add_argument("--page2", action="append", help="cursor:FIELD:PARAM | link:FIELD | query:Q")
    p.add_argument("--login-path", action="append", help="for --auth session:")
    p.add_argument("--var", action="append", help="NAME=VALUE for the body template")
    p.add_argument("--reply-path", action="append", help="{key}: a picked request")
    p.add_argument("--reply-body", action="append", help="JSON template, as --create-body")
    p.add_argument("--transition-path", action="append", help="{key}: a picked request")
    p.add_argument(
        "--transition-body", action="append", help="JSON template ({key} {version} {target})"
    )
    p.add_argument(
        "--transition",
        action="append",
        help="SOURCE:TARGET[,...]: the moves (default: aftercare=backlog:sprint,sprint:backlog "
        "helpdesk=1:3)",
    )
    p.add_argument("--transition-status", action="append", help="the status a move answers")
    p.add_argument(
        "--picks",
        type=int,
        default=20_000,
        help="at most this many requests picked for reply, and for transition",
    )
    # the servers this script starts
    p.add_argument("--database-url", help="Aftercare: default $DATABASE_URL, else SQLite")
    p.add_argument(
        "--data-dir", help=f"Aftercare: default $AFTERCARE_DATA_DIR or {DEFAULT_DATA_DIR}"
    )
    p.add_argument("--port", type=int, default=0, help="Aftercare's port (default: a free one)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (both products)")
    p.add_argument(
        "--gunicorn-timeout",
        type=int,
        default=300,
        help="gunicorn --timeout (both; helpdesk's API list takes >20 s at 100k)",
    )
    p.add_argument("--rate-limit", type=int, default=1_000_000, help="AFTERCARE_API_RATE_LIMIT")
    p.add_argument(
        "--followups",
        choices=("worker", "commit", "inline"),
        default="worker",
        help="Aftercare: AFTERCARE_FOLLOWUPS; with worker, a run_huey consumer runs beside "
        "gunicorn and the run waits for it to expand every follow-up before it stops",
    )
    p.add_argument(
        "--no-scratch",
        dest="scratch",
        action="store_false",
        help="SQLite: write to the seeded database instead of a copy",
    )
    p.add_argument("--helpdesk-data", default="/tmp/peer/data100k")
    p.add_argument(
        "--bare-rows",
        type=int,
        default=0,
        help="rows seeded for --target bare (default: the Aftercare target's count, else 100k)",
    )
    p.add_argument("--helpdesk-venv", default="/tmp/peer/venv")
    p.add_argument(
        "--helpdesk-project",
        default=str(
            Path(__file__).resolve().parent.parent.parent
            / "shared"
            / "peers"
            / "django-helpdesk"
            / "hdproj"
        ),
        help="default: ../shared/peers/django-helpdesk/hdproj beside the repository",
    )
    p.add_argument("--helpdesk-port", type=int, default=0)
    args = p.parse_args()
    args.run_id = datetime.now(UTC).strftime("%H%M%S")
    return args


def parse_scenarios(specs: list[str]) -> list[tuple[str, int]]:
    out = []
    for spec in specs:
        kind, _sep, n = spec.partition(":")
        if kind not in SCENARIO_KINDS:
            raise SystemExit(f"unknown scenario {kind!r}; choose from {SCENARIO_KINDS}")
        out.append((kind, int(n or 1)))
    return out


def print_table(rows: list[dict]) -> None:
    drained = any("drain_s" in r for r in rows)
    extra = " drain s | req/s drained |" if drained else ""
    print()
    print(
        "| target | scenario | ok | errors | req/s | p50 ms | p95 ms | p99 ms | mean ms | max ms |"
        + extra
    )
    print("|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if drained else ""))
    for r in rows:
        err = r["errors"]
        if err:
            err = f"{err} ({', '.join(f'{k}: {v}' for k, v in r['error_kinds'].items())})"
        more = f" {r.get('drain_s', '—')} | {r.get('req_per_s_drained', '—')} |" if drained else ""
        print(
            f"| {r['target']} | {r['scenario']} | {r['ok']} | {err} | {r['req_per_s']} | "
            f"{r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['mean_ms']} | {r['max_ms']} |"
            + more
        )


def print_ratios(rows: list[dict], names: list[str]) -> None:
    if "aftercare" not in names or len(names) < 2:
        return
    other = next(n for n in names if n != "aftercare")
    by = {(r["target"], r["scenario"]): r for r in rows}
    lines = []
    for r in rows:
        if r["target"] != "aftercare" or (other, r["scenario"]) not in by:
            continue
        o = by[(other, r["scenario"])]
        if not (r["p50_ms"] and o["p50_ms"] and r["req_per_s"] and o["req_per_s"]):
            continue
        drained = r.get("req_per_s_drained")
        lines.append(
            f"| {r['scenario']} | {r['req_per_s']} | {o['req_per_s']} | "
            f"{(r['ok'] / r['seconds']) / (o['ok'] / o['seconds']):.3g} | "
            + (f"{drained / o['req_per_s']:.3g} | " if drained else "— | ")
            + f"{r['p50_ms']} | {o['p50_ms']} | {r['p50_ms'] / o['p50_ms']:.3g} |"
        )
    if lines:
        print(
            f"\n| scenario | Aftercare req/s | {other} req/s | req/s ratio | "
            "ratio with follow-ups drained | "
            f"Aftercare p50 ms | {other} p50 ms | p50 ratio |"
        )
        print("|---|---|---|---|---|---|---|---|")
        print("\n".join(lines))


def main() -> None:
    args = parse_args()
    names = list(dict.fromkeys(args.target or ["aftercare"]))
    scenarios = parse_scenarios(args.scenario or DEFAULT_SCENARIOS)
    args.pick = bool({kind for kind, _n in scenarios} & {"reply", "transition"})
    targets = [build_target(n, args) for n in names]
    servers: list[AftercareServer | HelpdeskServer | BareServer] = []
    results: list[Result] = []
    served: dict[str, AftercareServer | HelpdeskServer] = {}
    load_before = os.getloadavg()
    try:
        for t in targets:
            if not t.base_url:
                if t.name == "aftercare":
                    server: AftercareServer | HelpdeskServer | BareServer = AftercareServer(args)
                elif t.name == "helpdesk":
                    server = HelpdeskServer(args)
                elif t.name == "bare":
                    server = BareServer(args)
                    rows = args.bare_rows or next(
                        (int(o.info["tickets"]) for o in targets if o.info.get("tickets")),
                        100_000,
                    )
                    servers.append(server)
                    server.start(t, rows)
                    t.auth.sign_in(t.base_url.rstrip("/"), t.login_path)
                    continue
                else:
                    raise SystemExit("--target custom needs --base-url")
                servers.append(server)
                served[t.name] = server
                server.start(t)
            else:
                check_loopback(t.base_url)
                t.info = {"server": t.base_url, "auth": t.auth.describe()}
                if t.name == "aftercare":
                    print(
                        "aftercare at --base-url: its rate limit (AFTERCARE_API_RATE_LIMIT, "
                        "default 600 a minute per token) must be raised, or 429s count as errors",
                        file=sys.stderr,
                    )
            t.auth.sign_in(t.base_url.rstrip("/"), t.login_path)
        seq = Sequence()
        for r in range(args.rounds):
            for kind, clients in scenarios:
                for t in targets:
                    if kind == "page2" and t.page2_path is None:
                        t.resolve_page2(args.timeout)
                    round_note = f" (round {r + 1})" if args.rounds > 1 else ""
                    if kind in ("reply", "transition") and not (
                        getattr(t, f"{kind}_path") and getattr(t, f"{kind}_body")
                    ):
                        print(f"  {t.name} has no {kind} scenario: skipped", flush=True)
                        continue
                    print(f"  {t.name} {kind} x{clients}{round_note} ...", flush=True)
                    result = run_scenario(t, kind, clients, args, seq)
                    server = served.get(t.name)
                    if getattr(server, "worker", None) is not None:
                        # The follow-ups this scenario left are the worker's to expand
                        # before the next scenario (of any target) starts: they are part
                        # of this one's cost, not of the next one's.
                        result.drain_s, _left = server.wait_drained()
                    results.append(result)
    finally:
        for s in reversed(servers):
            s.stop()
    load_after = os.getloadavg()

    label = args.label or " / ".join(
        f"{t.name} {t.info.get('engine', '')} {t.info.get('tickets', '')}".strip() for t in targets
    )
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    rows = [r.row() for r in results]
    info = {t.name: t.info for t in targets}
    lines = [
        json.dumps(
            {
                **row,
                **{k: v for k, v in info[row["target"]].items() if k in ("engine", "tickets")},
                "workers": args.workers,
                "label": label,
                "at": stamp,
            }
        )
        for row in rows
    ]
    print()
    print("\n".join(lines))
    print(
        f"\n{label}; {args.seconds:g} s per scenario; load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f} ({os.cpu_count()} CPUs)"
    )
    for t in targets:
        print(f"  {t.name}: {json.dumps(t.info)}")
    print_table(rows)
    print_ratios(rows, names)
    if args.out:
        with open(args.out, "a") as out:
            out.write("".join(line + "\n" for line in lines))


if __name__ == "__main__":
    main()
