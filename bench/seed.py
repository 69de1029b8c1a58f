"""Fill a fresh Aftercare database with a realistic volume of requests, fast.

    .venv/bin/python bench/seed.py --tickets 100000
    .venv/bin/python bench/seed.py --tickets 100000 \\
        --database-url postgres://postgres@127.0.0.1:5432/aftercare_bench

The database is always made fresh: the SQLite file (``$AFTERCARE_DATA_DIR``, default
``/tmp/aftercare-bench``) is deleted, or the PostgreSQL database is dropped and created
again (only a database whose name contains "bench"). Then ``migrate`` runs, ~30 customer
organisations with their people, systems and contracts are made, staff in each of the five
roles, and N requests with 1-3 messages and 1-3 audit events each, created over the last
two years. Rows are written with ``bulk_create`` (not ``services.open_ticket``), numbers
are allocated here in the ``AC-YYYY-NNNNNN`` format and ``TicketSequence`` is set to the
highest number of each year, so requests filed later continue the series.

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
import json
import os
import random
import sys
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
    p.add_argument("--batch", type=int, default=5000, help="tickets per transaction")
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
        help="bulk_create messages and events too (slower; see insert_rows)",
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


def make_fresh_database() -> str:
    """Delete the SQLite file or re-create the PostgreSQL database; return a label."""
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
        return f"SQLite {path}"
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
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"PostgreSQL {conninfo['host']}:{conninfo['port']}/{name}"


def weighted(rng: random.Random, table: list[tuple]) -> Callable[[], object]:
    values, weights = zip(*table, strict=True)
    return lambda: rng.choices(values, weights)[0]


def insert_rows(connection, model, rows: list[dict]) -> None:
    """``bulk_create`` without building model instances, for the 400k child rows.

    The INSERT is built from the model's own fields (a field not given gets its default)
    and run with ``executemany``; this takes about a fifth of the CPU ``bulk_create``
    needs for the same rows, which matters on two shared cores. ``--orm-only`` uses
    ``bulk_create`` instead, as a cross-check.
    """
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    names = [f.attname for f in fields]
    defaults = {f.attname: f.get_default() for f in fields}
    datetimes = {f.attname for f in fields if f.get_internal_type() == "DateTimeField"}
    # JSON columns (e.g. an event's note parameters) go in as the field stores them.
    jsons = {f.attname: f for f in fields if f.get_internal_type() == "JSONField"}
    adapt = connection.ops.adapt_datetimefield_value
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
        f" VALUES ({', '.join(['%s'] * len(fields))})"
    )
    values = [
        tuple(
            adapt(row.get(n, defaults[n]))
            if n in datetimes
            else jsons[n].get_db_prep_save(row.get(n, defaults[n]), connection)
            if n in jsons
            else row.get(n, defaults[n])
            for n in names
        )
        for row in rows
    ]
    with connection.cursor() as cur:
        cur.executemany(sql, values)


def main() -> None:
    args = parse_args()
    configure_environment(args)
    label = make_fresh_database()

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
    from aftercare.desk.models import Event, Message, Ticket, TicketSequence
    from aftercare.desk.numbering import format_number
    from aftercare.sla.models import SlaClock
    from aftercare.tenancy.models import Contract, Membership, Organisation, System

    rng = random.Random(args.seed)
    print(f"database: {label}")
    t0 = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    print(f"migrate: {time.perf_counter() - t0:.1f} s")

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
    n_messages = n_events = n_clocks = 0
    closed = {"archived", "rejected"}

    for start in range(0, args.tickets, args.batch):
        tickets: list[Ticket] = []
        plans = []
        for at in created[start : start + args.batch]:
            org = rng.choice(orgs)
            age = now - at
            if age < timedelta(days=30):
                status = pick_new()
            elif age < timedelta(days=730):
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
            sys_choices = systems_of[org.pk]
            tickets.append(
                Ticket(
                    number=format_number(prefix, year, last_number[year]),
                    organisation=org,
                    contract=contract_of[(org.pk, 2024 if at.year < 2025 else 2025)],
                    system=rng.choice(sys_choices) if rng.random() < 0.7 else None,
                    reporter=reporter,
                    created_by=creator,
                    assignee=assignee,
                    level=level,
                    category=pick_cat(),
                    customer_priority=priority if rng.random() < 0.85 else 3,
                    priority=priority,
                    channel=channel,
                    status=status,
                    subject=f"{obj.capitalize()} {trouble}"[:250],
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
            )
            plans.append((rng.randint(1, 3), n_ev))
        with scopes_disabled(), transaction.atomic():
            Ticket.objects.bulk_create(tickets, batch_size=1000)
            messages: list[dict] = []
            events: list[dict] = []
            clocks: list[dict] = []
            for t, (n_msg, n_ev) in zip(tickets, plans, strict=True):
                # One resolution clock per request, in the state the engine would leave.
                target = RESOLUTION_MINUTES[t.priority]
                deadline = t.created_at + timedelta(minutes=target)
                clock = dict(
                    ticket_id=t.pk,
                    organisation_id=t.organisation_id,
                    metric="resolution",
                    target_minutes=target,
                    around_the_clock=True,
                    started_at=t.created_at,
                )
                if t.resolved_at is not None:
                    clock.update(
                        state="met" if t.resolved_at <= deadline else "breached",
                        deadline=deadline,
                        stopped_at=t.resolved_at,
                        elapsed_minutes=(t.resolved_at - t.created_at).total_seconds() / 60,
                        breached_at=deadline if t.resolved_at > deadline else None,
                    )
                elif t.status == "waiting":
                    clock.update(
                        state="paused",
                        paused_since=t.updated_at,
                        breached_at=deadline if deadline < t.updated_at else None,
                    )
                else:
                    clock.update(
                        state="running",
                        deadline=deadline,
                        breached_at=deadline if deadline < now else None,
                    )
                clocks.append(clock)
                if args.lean_history and now - t.created_at > timedelta(days=730):
                    continue  # --lean-history: no conversation on requests over 2 years old
                gap = t.updated_at - t.created_at
                messages.append(
                    dict(
                        ticket_id=t.pk,
                        organisation_id=t.organisation_id,
                        author_id=t.reporter_id,
                        channel=t.channel,
                        body=t.description,
                        created_at=t.created_at,
                    )
                )
                for k in range(1, n_msg):
                    agent_side = k % 2 == 1
                    author = (t.assignee or rng.choice(staff_all)) if agent_side else t.reporter
                    internal = agent_side and rng.random() < 0.25
                    messages.append(
                        dict(
                            ticket_id=t.pk,
                            organisation_id=t.organisation_id,
                            author_id=author.pk,
                            kind="internal" if internal else "public",
                            channel="portal",
                            body=rng.choice(REPLIES),
                            created_at=t.created_at + gap * (k / n_msg),
                        )
                    )
                events.append(
                    dict(
                        ticket_id=t.pk,
                        organisation_id=t.organisation_id,
                        actor_id=t.created_by_id,
                        action="desk.ticket.created",
                        new=t.number,
                        created_at=t.created_at,
                    )
                )
                if n_ev >= 2:
                    events.append(
                        dict(
                            ticket_id=t.pk,
                            organisation_id=t.organisation_id,
                            actor_id=rng.choice(l1).pk,
                            action="desk.ticket.assigned",
                            field="assignee",
                            new=t.assignee.display_name if t.assignee else "",
                            created_at=t.created_at + gap * 0.1,
                        )
                    )
                if n_ev >= 3:
                    events.append(
                        dict(
                            ticket_id=t.pk,
                            organisation_id=t.organisation_id,
                            actor_id=(t.assignee or rng.choice(staff_all)).pk,
                            action="desk.ticket.status_changed",
                            field="status",
                            old="backlog",
                            new=t.status,
                            created_at=t.updated_at,
                        )
                    )
            if args.orm_only:
                Message.objects.bulk_create([Message(**m) for m in messages], batch_size=2000)
                Event.objects.bulk_create([Event(**e) for e in events], batch_size=2000)
                SlaClock.objects.bulk_create([SlaClock(**c) for c in clocks], batch_size=2000)
            else:
                insert_rows(connection, Message, messages)
                insert_rows(connection, Event, events)
                insert_rows(connection, SlaClock, clocks)
            n_messages += len(messages)
            n_events += len(events)
            n_clocks += len(clocks)
        done = min(start + args.batch, args.tickets)
        if done % 20000 == 0 or done == args.tickets:
            print(f"  {done} requests ({time.perf_counter() - t_start:.1f} s)", flush=True)

    with transaction.atomic():
        TicketSequence.objects.bulk_create(
            TicketSequence(prefix=prefix, year=year, last=last)
            for year, last in sorted(last_number.items())
        )
    seconds_insert = time.perf_counter() - t_start

    t_an = time.perf_counter()
    if not args.no_analyze:
        # PostgreSQL: VACUUM too, as autovacuum soon would, so the visibility map lets
        # COUNT(*) use index-only scans (a fresh bulk load otherwise reads the heap).
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    seconds_analyze = time.perf_counter() - t_an

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
        f"inserted {args.tickets} requests, {n_messages} messages, {n_events} events "
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
