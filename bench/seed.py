"""Fill a fresh Aftercare database with a realistic volume of requests, fast.

    .venv/bin/python bench/seed.py --tickets 100000
    .venv/bin/python bench/seed.py --tickets 100000 \\
        --database-url postgres://postgres@127.0.0.1:5432/aftercare_bench

The database is always made fresh: the SQLite file (``$AFTERCARE_DATA_DIR``, default
``/tmp/aftercare-bench``) is deleted, or the PostgreSQL database is dropped and created
again (only a database whose name contains "bench"). Then ``migrate`` runs, ~30 customer
organisations with their people, systems and contracts are made, staff in each of the five
roles, and N requests with 1-3 messages and 1-3 audit events each, created over the last
two years, with their search documents (as ``search.indexer.build`` makes them;
``--verify-index N`` checks N of them). Rows are written in batches without model
instances (not ``services.open_ticket``): on PostgreSQL by ``COPY … FREEZE`` from two
connections with the tables' secondary indexes and constraints dropped and made again
after the load (see ``Writer``), on SQLite by ``executemany``, with ``--orm-only`` by
``bulk_create``. Numbers are allocated here in the ``AC-YYYY-NNNNNN`` format and
``TicketSequence`` is set to the highest number of each year, so requests filed later
continue the series.

Each request also gets a resolution SLA clock and, when solved, ``resolved_at``, so the
managers' dashboard has something to count. ``--days`` spreads the requests over a longer
history (older than two years: all closed), so 1M requests over twenty years have the
same open set and recent weeks as 100k over two.

Prints the insert time and the sign-ins it made for the benchmark (``bench`` /
``bench-pass-123``, an L1 operator; ``bench-coord``, a customer coordinator;
``bench-manager``, a support manager), and writes the same facts to ``bench.json`` in the
data directory.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import queue
import random
import sys
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = "/tmp/aftercare-bench"
BENCH_USER = "bench"
BENCH_COORDINATOR = "bench-coord"
BENCH_MANAGER = "bench-manager"  # a support manager, for the dashboard
BENCH_PASSWORD = "bench-pass-123"  # noqa: S105 - a throwaway benchmark database

ORG_FIRST = (
    "Nordwind Alpha Carpathia Danubia Meridian Borealis Helios Vega Orion Atlas Sirius "
    "Lumen Terra Aurora Solis Castor Polaris Zenith Nova Delta Iris Luna Argo Kronos "
    "Stella Vulcan Titan Astra Pegas Corvus Lyra Draco"
).split()
ORG_SECOND = (
    "Logistics Retail Foods Pharma Textiles Energy Construct Motors Agro Finance "
    "Distribution Media Holding Telecom Insurance Steel"
).split()
ORG_FORM = ("SRL", "SA", "GmbH", "SAS", "Ltd", "LLC")
COUNTRIES = ("RO", "RO", "RO", "MD", "FR", "DE", "UA")
ZONES = {
    "RO": "Europe/Bucharest",
    "MD": "Europe/Chisinau",
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
    "UA": "Europe/Kyiv",
}
LANGS = {"RO": "ro", "MD": "ro", "FR": "fr", "DE": "en", "UA": "uk"}
FIRST = (
    "Ana Maria Ion Elena Andrei Mihai Ioana Alexandru Cristina Dan Olga Pierre Claire Jean "
    "Anna Lukas Sofia Taras Iryna Victor Radu Irina Oleg Marc Julia Paul Nadia Sergiu"
).split()
LAST = (
    "Popescu Ionescu Rusu Munteanu Ciobanu Dubois Martin Bernard Schmidt Weber Kovalenko "
    "Shevchenko Moraru Stan Dumitru Lungu Petit Richard Fischer Bondarenko Tkachenko"
).split()
PRODUCTS = ("Aftercare ERP", "Payroll Suite", "Warehouse Manager", "CRM Online", "BI Reports")

# Subject fragments: "invoice", "printer" and "vpn" occur in a few percent of subjects each,
# as in the django-helpdesk peer seed, so a text search has a realistic hit rate.
SUBJECT_OBJECTS = (
    "invoice",
    "printer",
    "vpn",
    "report",
    "payroll export",
    "stock balance",
    "login",
    "VAT return",
    "price list",
    "delivery note",
    "bank statement import",
    "user rights",
    "dashboard",
    "backup",
    "purchase order",
    "e-mail notification",
    "fiscal receipt",
    "warehouse transfer",
    "salary slip",
    "customer card",
    "API token",
    "month-end closing",
    "exchange rate",
    "inventory count",
    "SAF-T file",
    "barcode scanner",
    "certificate",
    "sales order",
    "cost centre",
    "depreciation run",
)
SUBJECT_TROUBLE = (
    "fails with an error",
    "is very slow",
    "shows wrong totals",
    "cannot be saved",
    "is missing after the update",
    "prints blank pages",
    "times out",
    "needs a new field",
    "how to configure?",
    "please add an export to Excel",
    "duplicates lines",
    "rounding differs by 0.01",
    "access denied for a new colleague",
    "question about the workflow",
    "stopped working this morning",
)
BODY = (
    "Since this morning the {obj} {trouble}. We tried again after restarting the client "
    "and the result is the same. It affects {n} users in the accounting department. "
    "Please see the screenshot we described and advise how to proceed; the month-end "
    "closing depends on it."
)
REPLIES = (
    "Thank you, we are looking into it and will come back today.",
    "Could you send the exact error text and the document number?",
    "We reproduced it on our test system; a fix is planned for the next release.",
    "Please try again now, the configuration was corrected.",
    "It works now, thank you!",
    "The problem is still there for some users.",
    "Checked the logs: the import file has an unexpected encoding.",
    "Internal: looks like the same cause as last month, see the release notes.",
)

# Status by age: most old requests are long closed, recent ones are still being worked.
OLD_STATUS = [
    ("archived", 78),
    ("rejected", 6),
    ("released", 3),
    ("done", 3),
    ("waiting", 3),
    ("backlog", 3),
    ("sprint", 2),
    ("in_progress", 2),
]
# Requests older than two years (only with --days > 730): all closed, as in a desk that
# has been running for a long time, so the open set and the recent weeks look the same at
# 100k over two years and at 1M over twenty (the dashboard benchmark compares the two).
ANCIENT_STATUS = [("archived", 92), ("rejected", 8)]
# Resolution targets (wall-clock minutes) of the seeded SLA clocks, by priority.
RESOLUTION_MINUTES = {1: 1440, 2: 3 * 1440, 3: 10 * 1440, 4: 30 * 1440}
NEW_STATUS = [
    ("backlog", 25),
    ("sprint", 10),
    ("in_progress", 20),
    ("waiting", 15),
    ("done", 10),
    ("released", 10),
    ("archived", 5),
    ("rejected", 5),
]
PRIORITY = [(1, 5), (2, 20), (3, 60), (4, 15)]
CATEGORY = [
    ("incident", 45),
    ("consultation", 25),
    ("problem", 8),
    ("change", 12),
    ("documentation", 4),
    ("improvement", 6),
]
CHANNEL = [("portal", 45), ("email", 35), ("phone", 12), ("messenger", 5), ("api", 3)]
STAFF = [  # (role, how many, username prefix)
    ("operator", 8, "operator"),
    ("consultant", 6, "consultant"),
    ("developer", 4, "developer"),
    ("manager", 2, "manager"),
    ("admin", 1, "admin"),
]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tickets", type=int, default=100_000)
    p.add_argument("--organisations", type=int, default=30)
    p.add_argument(
        "--days",
        type=int,
        default=730,
        help="spread the requests over this many days (older than 730: all closed)",
    )
    p.add_argument("--database-url", help="default: $DATABASE_URL, else SQLite in the data dir")
    p.add_argument("--data-dir", help=f"default: $AFTERCARE_DATA_DIR, else {DEFAULT_DATA_DIR}")
    p.add_argument("--batch", type=int, default=10000, help="requests per COPY / insert batch")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--lean-history",
        action="store_true",
        help="no messages or events on requests older than two years (a faster 1M seed)",
    )
    p.add_argument(
        "--no-analyze",
        action="store_true",
        help="skip ANALYZE (PostgreSQL: VACUUM ANALYZE) after loading",
    )
    p.add_argument(
        "--orm-only",
        action="store_true",
        help="bulk_create every row (slower; a cross-check of the COPY / executemany path)",
    )
    p.add_argument(
        "--no-template",
        action="store_true",
        help="PostgreSQL: migrate from scratch, not from the migrated template database",
    )
    p.add_argument(
        "--verify-index",
        type=int,
        default=0,
        metavar="N",
        help="check N random requests' search documents against search.indexer.build",
    )
    return p.parse_args()


def configure_environment(args: argparse.Namespace) -> None:
    """Point the settings at the benchmark database before Django starts."""
    if args.data_dir:
        os.environ["AFTERCARE_DATA_DIR"] = args.data_dir
    os.environ.setdefault("AFTERCARE_DATA_DIR", DEFAULT_DATA_DIR)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "aftercare.settings"
    os.environ["DEBUG"] = "0"
    sys.path.insert(0, str(ROOT))


TEMPLATE_PREFIX = "aftercare_bench_template_"


def schema_key() -> str:
    """A digest of every migration (and Django's version): the migrated template
    database is reused while it is unchanged."""
    import django

    digest = hashlib.sha256(django.__version__.encode())
    for path in sorted(ROOT.glob("aftercare/**/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def make_fresh_database(*, use_template: bool = True) -> tuple[str, Callable[[], None]]:
    """Delete the SQLite file or re-create the PostgreSQL database; return a label and
    what to do once ``migrate`` has run.

    PostgreSQL: a fresh database is copied from a migrated template
    (``aftercare_bench_template_<digest of the migrations>``, made by the first run after
    a migration changed; older ones are dropped then), because running the ~100
    migrations costs a minute or more on two busy cores. ``--no-template`` migrates from
    scratch.
    """
    import dj_database_url

    data_dir = Path(os.environ["AFTERCARE_DATA_DIR"])
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'aftercare.sqlite3'}"
    cfg = dj_database_url.parse(url)
    engine = cfg["ENGINE"]
    if engine.endswith("sqlite3"):
        path = Path(cfg["NAME"])
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"SQLite {path}", lambda: None
    if "postgresql" not in engine:
        sys.exit(f"unsupported database engine {engine}")
    name = cfg["NAME"]
    if "bench" not in name or name in {"test", "postgres"} or name.startswith("template"):
        sys.exit(f"refusing to drop database {name!r}: use a dedicated name containing 'bench'")
    import psycopg
    from psycopg import sql

    conninfo = {
        "host": cfg.get("HOST") or "127.0.0.1",
        "port": cfg.get("PORT") or 5432,
        "user": cfg.get("USER") or "postgres",
        "dbname": "postgres",
    }
    if cfg.get("PASSWORD"):
        conninfo["password"] = cfg["PASSWORD"]
    template = TEMPLATE_PREFIX + schema_key()
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        found = (
            use_template
            and conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone()
        )
        if found:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def after_migrate() -> None:
        if found or not use_template:
            return
        from django.db import connections

        connections.close_all()  # CREATE DATABASE … TEMPLATE needs it unused
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            old = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s",
                [TEMPLATE_PREFIX + "%"],
            ).fetchall()
            for (stale,) in old:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(stale))
                )
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(template), sql.Identifier(name)
                )
            )

    how = f"from template {template}" if found else "migrated from scratch"
    return f"PostgreSQL {conninfo['host']}:{conninfo['port']}/{name} ({how})", after_migrate


def weighted(rng: random.Random, table: list[tuple]) -> Callable[[], object]:
    values, weights = zip(*table, strict=True)
    cum = list(itertools.accumulate(weights))  # computed once, not on every draw
    return lambda: rng.choices(values, cum_weights=cum)[0]


class Table:
    """One table's rows as lists in its column order, ids allocated here.

    Rows are built from the model's own fields (a field not given gets its default), so a
    new column with a default needs no change here. Ids are given explicitly (the database
    is fresh), so child rows can point to their parent without reading ids back; the
    sequences are set past them at the end.
    """

    def __init__(self, model, first_id: int) -> None:
        self.model = model
        fields = list(model._meta.concrete_fields)
        self.fields = fields
        self.pos = {f.attname: i for i, f in enumerate(fields)}
        self.pk_pos = self.pos[model._meta.pk.attname]
        self.base = [None if f.primary_key else f.get_default() for f in fields]
        self.next_id = first_id
        self.rows: list[list] = []
        self.total = 0

    def add(self, **values) -> int:
        row = self.base.copy()
        pk = self.next_id
        self.next_id += 1
        row[self.pk_pos] = pk
        pos = self.pos
        for name, value in values.items():
            row[pos[name]] = value
        self.rows.append(row)
        return pk

    def take(self) -> list[list]:
        rows, self.rows = self.rows, []
        self.total += len(rows)
        return rows


class Writer:
    """Writes the tables' rows: PostgreSQL by COPY from two threads, SQLite by
    ``executemany``, ``--orm-only`` by ``bulk_create``.

    PostgreSQL: the tables' secondary indexes, unique and foreign-key constraints are
    dropped before the load and made again after it, once each, instead of being kept up
    to date row by row. Two connections load at the same time (the search documents,
    whose ``tsvector`` costs the server about as much as all the other rows together, on
    the second), so the server works on two cores while Python makes the next batch.
    Each connection's load is one transaction that first empties its tables (empty
    anyway: a fresh database), so ``COPY … FREEZE`` writes the rows already frozen and
    visible to all: no VACUUM is needed before index-only scans work.
    """

    STREAMS = 2  # connections loading at the same time; also used to rebuild indexes

    def __init__(self, connection, tables: list[Table], *, orm: bool) -> None:
        self.connection = connection
        self.tables = tables
        self.vendor = "orm" if orm else connection.vendor
        self.streams: list[dict] = []
        self.error: BaseException | None = None
        self.indexes: list[tuple[str, str, str]] = []  # (table, name, CREATE INDEX …)
        self.constraints: list[tuple[str, str, str, str]] = []  # (table, name, def, kind)
        self.seconds: dict[str, float] = {}  # COPY time per table (PostgreSQL)

    # --- PostgreSQL -----------------------------------------------------------------

    def _names(self) -> list[str]:
        return [t.model._meta.db_table for t in self.tables]

    def _connect(self):
        import psycopg

        params = self.connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        return psycopg.connect(**params)

    def drop_secondary(self) -> None:
        """Drop the tables' foreign keys, unique constraints and secondary indexes,
        remembering how to make them again (``restore``)."""
        names = self._names()
        with self.connection.cursor() as cur:
            cur.execute(
                """SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid),
                          c.contype
                   FROM pg_constraint c
                   WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('f', 'u')
                     AND NOT (c.contype = 'u' AND EXISTS (
                         SELECT 1 FROM pg_constraint f WHERE f.contype = 'f'
                         AND f.conrelid <> c.conrelid AND f.conindid = c.conindid))""",
                [names],
            )
            self.constraints = cur.fetchall()
            cur.execute(
                """SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text,
                          pg_get_indexdef(i.indexrelid)
                   FROM pg_index i
                   WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
                     AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                     WHERE c.conindid = i.indexrelid
                                       AND c.conrelid = i.indrelid)""",
                [names],
            )
            self.indexes = cur.fetchall()
            # Foreign keys first (they may need a unique index), then the rest.
            for table, name, _definition, _kind in sorted(
                self.constraints, key=lambda c: c[3] != "f"
            ):
                cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for _table, name, _definition in self.indexes:
                cur.execute(f"DROP INDEX {name}")

    def _parallel(self, jobs: dict[str, list[str]]) -> None:
        """Run each key's statements in order, keys spread over ``STREAMS`` connections
        (autocommit); the biggest lists first."""
        work: queue.Queue = queue.Queue()
        for _key, statements in sorted(jobs.items(), key=lambda kv: -len(kv[1])):
            work.put(statements)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with self._connect() as conn:
                    conn.autocommit = True
                    conn.execute("SET maintenance_work_mem = '256MB'")
                    # Both cores already build one index each.
                    conn.execute("SET max_parallel_maintenance_workers = 0")
                    while True:
                        try:
                            statements = work.get_nowait()
                        except queue.Empty:
                            return
                        for sql in statements:
                            conn.execute(sql)
            except BaseException as exc:  # noqa: BLE001 - raised in the main thread
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(self.STREAMS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def restore(self) -> None:
        """Make the dropped indexes and constraints again, two at a time.

        Indexes (unique ones too, attached to their constraint afterwards) are built in
        parallel; foreign keys are added ``NOT VALID`` (no lock on the other table held
        for long) and then validated table by table, also in parallel.
        """
        jobs: dict[str, list[str]] = {}
        for _table, name, definition in self.indexes:
            jobs[name] = [definition]
        attach, foreign = [], []
        for table, name, definition, kind in self.constraints:
            if kind == "u":
                columns = definition.removeprefix("UNIQUE ")
                jobs[name] = [f'CREATE UNIQUE INDEX "{name}" ON {table} {columns}']
                attach.append(
                    f'ALTER TABLE {table} ADD CONSTRAINT "{name}" UNIQUE USING INDEX "{name}"'
                )
            else:
                foreign.append((table, name, definition))
        # The index builds one per connection; the largest tables' first is good enough.
        self._parallel(jobs)
        with self.connection.cursor() as cur:
            for sql in attach:
                cur.execute(sql)
            for table, name, definition in foreign:
                cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition} NOT VALID')
        validate: dict[str, list[str]] = {}
        for table, name, _definition in foreign:
            validate.setdefault(table, []).append(
                f'ALTER TABLE {table} VALIDATE CONSTRAINT "{name}"'
            )
        self._parallel(validate)

    def _copy_loop(self, stream: dict) -> None:
        conn, work = stream["connection"], stream["queue"]
        try:
            with conn.cursor() as cur:
                while True:
                    item = work.get()
                    if item is None:
                        break
                    table, rows = item
                    json_cols = [
                        i
                        for i, f in enumerate(table.fields)
                        if f.get_internal_type() == "JSONField"
                    ]
                    for row in rows:
                        for i in json_cols:
                            row[i] = json.dumps(row[i])
                    columns = ", ".join(f'"{f.column}"' for f in table.fields)
                    name = table.model._meta.db_table
                    sql = f'COPY "{name}" ({columns}) FROM STDIN (FREEZE)'
                    started = time.perf_counter()
                    with cur.copy(sql) as copy:
                        for row in rows:
                            copy.write_row(row)
                    self.seconds[name] = self.seconds.get(name, 0) + time.perf_counter() - started
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.error = exc
            while work.get() is not None:  # let the producer finish
                pass

    def begin(self) -> None:
        """Start the load (PostgreSQL: the first stream inside the caller's transaction,
        the second on its own connection and transaction)."""
        if self.vendor != "postgresql":
            return
        search = [t for t in self.tables if t.model._meta.db_table == "search_document"]
        rest = [t for t in self.tables if t not in search]
        groups = [rest, search] if search else [rest]
        for k, group in enumerate(groups):
            conn = self.connection.connection if k == 0 else self._connect()
            names = ", ".join(f'"{t.model._meta.db_table}"' for t in group)
            with conn.cursor() as cur:
                cur.execute("SET synchronous_commit = off")
                # Empty already (a fresh database); TRUNCATE lets COPY write frozen rows.
                cur.execute(f"TRUNCATE {names} CASCADE")
            stream = {
                "connection": conn,
                "tables": {id(t) for t in group},
                "queue": queue.Queue(maxsize=len(group) * 2),
                "own": k > 0,
            }
            stream["thread"] = threading.Thread(target=self._copy_loop, args=(stream,))
            stream["thread"].start()
            self.streams.append(stream)

    def write(self) -> None:
        for table in self.tables:
            rows = table.take()
            if not rows:
                continue
            if self.vendor == "postgresql":
                if self.error is not None:
                    raise self.error
                stream = next(s for s in self.streams if id(table) in s["tables"])
                stream["queue"].put((table, rows))
            elif self.vendor == "orm":
                names = [f.attname for f in table.fields]
                table.model.objects.bulk_create(
                    [table.model(**dict(zip(names, row, strict=True))) for row in rows],
                    batch_size=2000,
                )
            else:
                self._executemany(table, rows)

    def _executemany(self, table: Table, rows: list[list]) -> None:
        conn = self.connection
        adapt = conn.ops.adapt_datetimefield_value
        convert = []
        for i, f in enumerate(table.fields):
            kind = f.get_internal_type()
            if kind == "DateTimeField":
                convert.append((i, adapt))
            elif kind == "JSONField":
                convert.append((i, lambda v, f=f: f.get_db_prep_save(v, conn)))
        for row in rows:
            for i, fn in convert:
                row[i] = fn(row[i])
        quote = conn.ops.quote_name
        sql = (
            f"INSERT INTO {quote(table.model._meta.db_table)} "
            f"({', '.join(quote(f.column) for f in table.fields)}) "
            f"VALUES ({', '.join(['%s'] * len(table.fields))})"
        )
        with conn.cursor() as cur:
            cur.executemany(sql, rows)

    def finish(self) -> None:
        """Wait for the last COPY; the second stream commits here, the first with the
        caller's transaction."""
        for stream in self.streams:
            stream["queue"].put(None)
        for stream in self.streams:
            stream["thread"].join()
        if self.error is not None:
            raise self.error
        for stream in self.streams:
            if stream["own"]:
                stream["connection"].commit()
                stream["connection"].close()
        self.streams = []

    def reset_sequences(self) -> None:
        from django.core.management.color import no_style

        statements = self.connection.ops.sequence_reset_sql(
            no_style(), [t.model for t in self.tables]
        )
        with self.connection.cursor() as cur:
            for sql in statements:
                cur.execute(sql)


class SearchRows:
    """The search index's rows as ``search.indexer.build`` makes them, without reading
    the requests back: the texts repeat (a few thousand subjects, descriptions, replies
    and reporters), so each is folded once (``verify_index`` checks the equality)."""

    def __init__(self, table: Table, now) -> None:
        from aftercare.search import indexer
        from aftercare.search.fold import index_text

        self.table = table
        self.now = now
        self.indexer = indexer
        self.index_text = index_text
        self.folded: dict[str, str] = {}
        self.names: dict[tuple[int, int], tuple[str, str]] = {}

    def fold(self, text: str) -> str:
        value = self.folded.get(text)
        if value is None:
            value = self.folded[text] = self.index_text(text)
        return value

    def add(self, ticket, reporter, organisation, public: list[str], internal: list[str]):
        """``public``: the description, then the public replies in order; ``internal``:
        the internal notes."""
        key = (reporter.pk, organisation.pk)
        names = self.names.get(key)
        if names is None:
            raw = "\n".join([self.indexer.reporter_line(reporter), organisation.name])
            names = self.names[key] = (raw, self.index_text(raw))
        # The first message repeats the description: each text once (as ``build``).
        parts = [public[0]] + [b for b in public[1:] if b != public[0]]
        scope = self.indexer.scope_token(organisation.pk)
        self.table.add(
            ticket_id=ticket["id"],
            organisation_id=organisation.pk,
            kind="public",
            number=self.indexer.number_text(ticket["number"]),
            subject=self.fold(ticket["subject"]),
            body=" ".join(self.fold(p) for p in parts),
            names=names[1],
            raw_body="\n\n".join(parts),
            raw_names=names[0],
            scope=scope,
            is_open=ticket["is_open"],
            updated_at=self.now,
        )
        if internal:
            self.table.add(
                ticket_id=ticket["id"],
                organisation_id=organisation.pk,
                kind="internal",
                body=" ".join(self.fold(p) for p in internal),
                raw_body="\n\n".join(internal),
                scope=scope,
                is_open=ticket["is_open"],
                updated_at=self.now,
            )


def verify_index(n: int, rng: random.Random) -> None:
    """Compare the seeded search documents of ``n`` random requests with what
    ``search.indexer.build`` makes from the same rows; exit 1 on a difference."""
    from django_scopes import scopes_disabled

    from aftercare.desk.models import Ticket
    from aftercare.search.indexer import _CONTENT, _tickets, build
    from aftercare.search.models import SearchDocument

    with scopes_disabled():
        ids = list(Ticket.objects.values_list("pk", flat=True))
        sample = rng.sample(ids, min(n, len(ids)))
        wanted = {(d.ticket_id, d.kind): d for d in build(_tickets(sample))}
        seeded = {
            (d.ticket_id, d.kind): d for d in SearchDocument.objects.filter(ticket_id__in=sample)
        }
    fields = ("organisation_id", "is_open", *_CONTENT)
    bad = [
        key
        for key in wanted.keys() | seeded.keys()
        if key not in wanted
        or key not in seeded
        or any(getattr(wanted[key], f) != getattr(seeded[key], f) for f in fields)
    ]
    if bad:
        sys.exit(f"search documents differ from search.indexer.build for {sorted(bad)[:5]}")
    print(f"search documents of {len(sample)} requests match search.indexer.build")


def main() -> None:
    args = parse_args()
    configure_environment(args)
    label, after_migrate = make_fresh_database(use_template=not args.no_template)

    import django

    django.setup()

    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from django_scopes import scopes_disabled

    from aftercare.accounts.models import User
    from aftercare.accounts.roles import GROUP_NAMES, Role
    from aftercare.desk.models import OPEN_STATUSES, Event, Message, Ticket, TicketSequence
    from aftercare.desk.numbering import format_number
    from aftercare.search.models import SearchDocument
    from aftercare.sla.models import SlaClock
    from aftercare.tenancy.models import Contract, Membership, Organisation, System

    rng = random.Random(args.seed)
    print(f"database: {label}")
    t0 = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    after_migrate()
    print(f"migrate: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    # collectstatic compresses every file again (~40 s on two busy cores): only when a
    # static file changed since the last run into this data directory.
    stamp = Path(settings.STATIC_ROOT) / ".seed-collected"
    newest = max(p.stat().st_mtime for p in ROOT.glob("aftercare/**/static/**/*") if p.is_file())
    if not stamp.exists() or stamp.stat().st_mtime < newest:
        call_command("collectstatic", interactive=False, verbosity=0)
        stamp.touch()
        print(f"collectstatic: {time.perf_counter() - t0:.1f} s")

    if connection.vendor == "sqlite":
        # A throwaway database: no fsync while loading (the server later reopens it with
        # the settings' own pragmas).
        with connection.cursor() as cur:
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-262144")
    now = timezone.now()
    # One PBKDF2 hash shared by every demo account: hashing 150 passwords one by one would
    # cost more than inserting 100k requests. Any demo user can sign in with it.
    password = make_password(BENCH_PASSWORD)
    t_start = time.perf_counter()

    with scopes_disabled(), transaction.atomic():
        # Staff in every role; `bench` is one of the L1 operators.
        groups = {g.name: g for g in Group.objects.filter(name__in=GROUP_NAMES.values())}
        if len(groups) != len(GROUP_NAMES):
            sys.exit("staff groups missing after migrate (post_migrate did not run?)")
        staff: dict[str, list[User]] = {}
        users: list[User] = []
        for role, count, prefix in STAFF:
            for i in range(count):
                username = f"{prefix}{i}"
                if i == 0 and role == Role.OPERATOR:
                    username = BENCH_USER
                elif i == 0 and role == Role.MANAGER:
                    username = BENCH_MANAGER
                u = User(
                    username=username,
                    email=f"{username}@vendor.test",
                    first_name=rng.choice(FIRST),
                    last_name=rng.choice(LAST),
                    password=password,
                    is_staff=role == Role.ADMIN,
                )
                staff.setdefault(role, []).append(u)
                users.append(u)
        User.objects.bulk_create(users)
        through = User.groups.through
        through.objects.bulk_create(
            through(user_id=u.pk, group_id=groups[GROUP_NAMES[role]].pk)
            for role, members in staff.items()
            for u in members
        )

        # Customer organisations, their people, contracts and systems.
        names = rng.sample(
            [f"{a} {b} {c}" for a in ORG_FIRST for b in ORG_SECOND for c in ORG_FORM],
            args.organisations,
        )
        orgs = []
        for i, name in enumerate(names):
            country = rng.choice(COUNTRIES)
            code = f"org{i + 1:02d}"
            orgs.append(
                Organisation(
                    name=name,
                    code=code,
                    country=country,
                    time_zone=ZONES[country],
                    language=LANGS[country],
                    mail_domains=f"{code}.example",
                    created_at=now - timedelta(days=800),
                )
            )
        Organisation.objects.bulk_create(orgs)
        contracts = Contract.objects.bulk_create(
            Contract(
                organisation=o,
                number=f"C-{o.code.upper()}-{2024 + k}",
                starts_on=date(2024, 1, 1) if k == 0 else date(2025, 1, 1),
                ends_on=date(2024, 12, 31) if k == 0 else None,
                support_hours=rng.choice(("business", "business", "24x7")),
            )
            for o in orgs
            for k in range(2)
        )
        contract_of = {(c.organisation_id, c.starts_on.year): c for c in contracts}
        systems = System.objects.bulk_create(
            System(
                organisation=o,
                name=f"{o.code.upper()} {label_}",
                product=rng.choice(PRODUCTS),
                version=f"{rng.randint(3, 7)}.{rng.randint(0, 9)}",
                licence=f"L-{o.pk:03d}-{k}",
                contract=contract_of[(o.pk, 2025)],
            )
            for o in orgs
            for k, label_ in enumerate(("production", "test", "branch office")[: rng.randint(1, 3)])
        )
        systems_of: dict[int, list[System]] = {}
        for s in systems:
            systems_of.setdefault(s.organisation_id, []).append(s)

        customers = []
        for o in orgs:
            for k in range(rng.randint(2, 4)):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                username = f"{first}.{last}.{o.code}{k}".lower()
                customers.append(
                    (
                        o,
                        User(
                            username=username,
                            email=f"{username}@{o.code}.example",
                            first_name=first,
                            last_name=last,
                            language=o.language,
                            password=password,
                        ),
                    )
                )
        coordinator_org = orgs[0]
        customers.append(
            (
                coordinator_org,
                User(
                    username=BENCH_COORDINATOR,
                    email=f"{BENCH_COORDINATOR}@{coordinator_org.code}.example",
                    first_name="Bench",
                    last_name="Coordinator",
                    password=password,
                ),
            )
        )
        User.objects.bulk_create([u for _o, u in customers])
        people_of: dict[int, list[User]] = {}
        seen_coordinator: set[int] = set()
        memberships = []
        for o, u in customers:
            people_of.setdefault(o.pk, []).append(u)
            is_coord = o.pk not in seen_coordinator or u.username == BENCH_COORDINATOR
            seen_coordinator.add(o.pk)
            role = Role.COORDINATOR if is_coord else Role.CUSTOMER
            memberships.append(Membership(user=u, organisation=o, role=role))
        Membership.objects.bulk_create(memberships)

    # Requests, oldest first so ids and numbers both grow with created_at.
    span = args.days * 86400
    created = sorted(now - timedelta(seconds=rng.randint(300, span)) for _ in range(args.tickets))
    pick_old, pick_new = weighted(rng, OLD_STATUS), weighted(rng, NEW_STATUS)
    pick_ancient = weighted(rng, ANCIENT_STATUS)
    pick_prio, pick_cat = weighted(rng, PRIORITY), weighted(rng, CATEGORY)
    pick_channel = weighted(rng, CHANNEL)
    l1 = staff[Role.OPERATOR]
    l2 = staff[Role.CONSULTANT] + staff[Role.DEVELOPER]
    staff_all = [u for members in staff.values() for u in members]
    prefix = settings.AFTERCARE_TICKET_PREFIX
    default_tz = timezone.get_default_timezone()
    last_number: dict[int, int] = {}
    closed = {"archived", "rejected"}

    day30, day730 = timedelta(days=30), timedelta(days=730)
    contract_2024 = {o.pk: contract_of[(o.pk, 2024)].pk for o in orgs}
    contract_2025 = {o.pk: contract_of[(o.pk, 2025)].pk for o in orgs}
    system_ids = {o.pk: [s.pk for s in systems_of[o.pk]] for o in orgs}
    assigned_names = {u.pk: u.display_name for u in staff_all}

    def first_id(model) -> int:
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT COALESCE(MAX(id), 0) + 1 FROM {connection.ops.quote_name(model._meta.db_table)}"  # noqa: S608
            )
            return cur.fetchone()[0]

    t_ticket, t_message, t_event, t_clock, t_doc = (
        Table(m, first_id(m)) for m in (Ticket, Message, Event, SlaClock, SearchDocument)
    )
    tables = [t_ticket, t_message, t_event, t_clock, t_doc]
    search_rows = SearchRows(t_doc, now)
    writer = Writer(connection, tables, orm=args.orm_only)
    t_drop = time.perf_counter()
    if writer.vendor == "postgresql":
        writer.drop_secondary()
        print(f"  indexes and constraints dropped ({time.perf_counter() - t_drop:.1f} s)")

    with scopes_disabled(), transaction.atomic():
        writer.begin()
        for start in range(0, args.tickets, args.batch):
            for at in created[start : start + args.batch]:
                org = rng.choice(orgs)
                age = now - at
                if age < day30:
                    status = pick_new()
                elif age < day730:
                    status = pick_old()
                else:
                    status = pick_ancient()
                level = 2 if rng.random() < 0.2 else 1
                assigned = status != "backlog" or rng.random() < 0.4
                assignee = rng.choice(l2 if level == 2 else l1) if assigned else None
                channel = pick_channel()
                reporter = rng.choice(people_of[org.pk])
                by_staff = channel in ("phone", "messenger")
                creator = rng.choice(l1) if by_staff else reporter
                worked = min(age, timedelta(days=45)) if status in closed else age
                updated = at + worked * rng.random()
                year = at.astimezone(default_tz).year
                last_number[year] = last_number.get(year, 0) + 1
                priority = pick_prio()
                obj, trouble = rng.choice(SUBJECT_OBJECTS), rng.choice(SUBJECT_TROUBLE)
                description = BODY.format(obj=obj, trouble=trouble, n=rng.randint(1, 40))
                released = closed_at = None
                if status in ("released", "archived"):
                    released = (
                        max(at, updated - timedelta(days=10)) if status == "archived" else updated
                    )
                if status in closed:
                    closed_at = updated
                # When the work ended (Done, Rejected, Released; Archived came from Released).
                resolved = None
                if status in ("done", "rejected"):
                    resolved = updated
                elif status in ("released", "archived"):
                    resolved = released
                due = at + timedelta(minutes=RESOLUTION_MINUTES[priority])
                n_ev = rng.randint(1, 3)
                sys_choices = system_ids[org.pk]
                number = format_number(prefix, year, last_number[year])
                subject = f"{obj.capitalize()} {trouble}"[:250]
                ticket_id = t_ticket.add(
                    number=number,
                    organisation_id=org.pk,
                    contract_id=(contract_2024 if at.year < 2025 else contract_2025)[org.pk],
                    system_id=rng.choice(sys_choices) if rng.random() < 0.7 else None,
                    reporter_id=reporter.pk,
                    created_by_id=creator.pk,
                    assignee_id=assignee.pk if assignee else None,
                    level=level,
                    category=pick_cat(),
                    customer_priority=priority if rng.random() < 0.85 else 3,
                    priority=priority,
                    channel=channel,
                    status=status,
                    subject=subject,
                    description=description,
                    rejection_reason="Not reproducible" if status == "rejected" else "",
                    created_at=at,
                    updated_at=updated,
                    status_changed_at=updated,
                    released_at=released,
                    closed_at=closed_at,
                    resolved_at=resolved,
                    sla_due_at=due if resolved is None and status != "waiting" else None,
                    version=n_ev,
                )
                n_msg = rng.randint(1, 3)
                # One resolution clock per request, in the state the engine would leave.
                target = RESOLUTION_MINUTES[priority]
                deadline = at + timedelta(minutes=target)
                if resolved is not None:
                    clock = dict(
                        state="met" if resolved <= deadline else "breached",
                        deadline=deadline,
                        stopped_at=resolved,
                        elapsed_minutes=(resolved - at).total_seconds() / 60,
                        breached_at=deadline if resolved > deadline else None,
                    )
                elif status == "waiting":
                    clock = dict(
                        state="paused",
                        paused_since=updated,
                        breached_at=deadline if deadline < updated else None,
                    )
                else:
                    clock = dict(
                        state="running",
                        deadline=deadline,
                        breached_at=deadline if deadline < now else None,
                    )
                t_clock.add(
                    ticket_id=ticket_id,
                    organisation_id=org.pk,
                    metric="resolution",
                    target_minutes=target,
                    around_the_clock=True,
                    started_at=at,
                    **clock,
                )
                ticket = {
                    "id": ticket_id,
                    "number": number,
                    "subject": subject,
                    "is_open": status in OPEN_STATUSES,
                }
                if args.lean_history and age > day730:
                    # --lean-history: no conversation on requests over two years old.
                    search_rows.add(ticket, reporter, org, [description], [])
                    continue
                gap = updated - at
                t_message.add(
                    ticket_id=ticket_id,
                    organisation_id=org.pk,
                    author_id=reporter.pk,
                    channel=channel,
                    body=description,
                    created_at=at,
                )
                public, internal = [description], []
                for k in range(1, n_msg):
                    agent_side = k % 2 == 1
                    author = (assignee or rng.choice(staff_all)) if agent_side else reporter
                    is_internal = agent_side and rng.random() < 0.25
                    body = rng.choice(REPLIES)
                    (internal if is_internal else public).append(body)
                    t_message.add(
                        ticket_id=ticket_id,
                        organisation_id=org.pk,
                        author_id=author.pk,
                        kind="internal" if is_internal else "public",
                        channel="portal",
                        body=body,
                        created_at=at + gap * (k / n_msg),
                    )
                search_rows.add(ticket, reporter, org, public, internal)
                t_event.add(
                    ticket_id=ticket_id,
                    organisation_id=org.pk,
                    actor_id=creator.pk,
                    action="desk.ticket.created",
                    new=number,
                    created_at=at,
                )
                if n_ev >= 2:
                    t_event.add(
                        ticket_id=ticket_id,
                        organisation_id=org.pk,
                        actor_id=rng.choice(l1).pk,
                        action="desk.ticket.assigned",
                        field="assignee",
                        new=assigned_names[assignee.pk] if assignee else "",
                        created_at=at + gap * 0.1,
                    )
                if n_ev >= 3:
                    t_event.add(
                        ticket_id=ticket_id,
                        organisation_id=org.pk,
                        actor_id=(assignee or rng.choice(staff_all)).pk,
                        action="desk.ticket.status_changed",
                        field="status",
                        old="backlog",
                        new=status,
                        created_at=updated,
                    )
            writer.write()
            done = min(start + args.batch, args.tickets)
            if done % 100_000 == 0 or done == args.tickets:
                print(f"  {done} requests ({time.perf_counter() - t_start:.1f} s)", flush=True)
        writer.finish()
        TicketSequence.objects.bulk_create(
            TicketSequence(prefix=prefix, year=year, last=last)
            for year, last in sorted(last_number.items())
        )
    n_messages, n_events, n_clocks = t_message.total, t_event.total, t_clock.total
    if writer.seconds:
        print("  COPY seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in writer.seconds.items()))
    n_documents = t_doc.total
    t_index = time.perf_counter()
    writer.reset_sequences()
    if writer.vendor == "postgresql":
        writer.restore()
        print(f"  indexes and constraints made again ({time.perf_counter() - t_index:.1f} s)")
    seconds_insert = time.perf_counter() - t_start

    t_an = time.perf_counter()
    if not args.no_analyze:
        with connection.cursor() as cur:
            if writer.vendor == "postgresql":
                # The COPY wrote the rows frozen (visible to all: index-only scans work at
                # once); the tables loaded without COPY (the ORM path) need VACUUM.
                cur.execute("ANALYZE")
            else:
                cur.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    seconds_analyze = time.perf_counter() - t_an
    if args.verify_index:
        verify_index(args.verify_index, rng)

    db = settings.DATABASES["default"]
    size = None
    if db["ENGINE"].endswith("sqlite3"):
        with connection.cursor() as cur:
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = Path(db["NAME"]).stat().st_size
    else:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_database_size(current_database())")
            size = cur.fetchone()[0]

    summary = {
        "database": label,
        "engine": db["ENGINE"],
        "tickets": args.tickets,
        "messages": n_messages,
        "events": n_events,
        "sla_clocks": n_clocks,
        "search_documents": n_documents,
        "days": args.days,
        "lean_history": args.lean_history,
        "organisations": len(orgs),
        "customer_users": len(customers),
        "staff_users": len(staff_all),
        "sequences": {str(y): n for y, n in sorted(last_number.items())},
        "seconds_insert": round(seconds_insert, 2),
        "seconds_analyze": round(seconds_analyze, 2),
        "db_bytes": size,
        "staff_login": [BENCH_USER, BENCH_PASSWORD],
        "coordinator_login": [BENCH_COORDINATOR, BENCH_PASSWORD],
        "manager_login": [BENCH_MANAGER, BENCH_PASSWORD],
        "coordinator_organisation": coordinator_org.code,
        "seeded_at": timezone.now().isoformat(timespec="seconds"),
    }
    out = Path(os.environ["AFTERCARE_DATA_DIR"]) / "bench.json"
    out.write_text(json.dumps(summary, indent=2))
    print(
        f"inserted {args.tickets} requests, {n_messages} messages, {n_events} events, "
        f"{n_documents} search documents "
        f"in {seconds_insert:.1f} s (ANALYZE/VACUUM {seconds_analyze:.1f} s; "
        f"database {size / 1e6:.0f} MB)"
    )
    print(f"numbers: {', '.join(f'{prefix}-{y}: {n}' for y, n in sorted(last_number.items()))}")
    print(f"staff sign-in (L1 operator): {BENCH_USER} / {BENCH_PASSWORD}")
    print(f"customer coordinator ({coordinator_org.name}): {BENCH_COORDINATOR} / {BENCH_PASSWORD}")
    print(f"support manager (dashboard): {BENCH_MANAGER} / {BENCH_PASSWORD}")
    print(f"summary written to {out}")


if __name__ == "__main__":
    main()
