"""Populating an instance and reading back every table, for the backup round-trip tests."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

ROOT = Path(__file__).resolve().parents[3]
# Operational or per-installation tables a restore does not copy.
NOT_COMPARED = {"django_migrations", "ops_maintenanceflag", "sqlite_sequence"}
# SQLite FTS5's own b-tree pages (the search index over ``search_document``): rebuilt by
# its triggers as the rows are restored, equal in content but not byte for byte. The
# documents themselves are compared, and the restore tests search the restored copy.
NOT_COMPARED_PREFIXES = ("search_fts_",)


def populate(*, org, other_org, owner, coordinator, outsider, operator, consultant) -> None:
    """Requests with replies, notes, files, events, SLA clocks, approvals, mail, tokens."""
    from aftercare.api.tokens import issue
    from aftercare.desk import approvals, services
    from aftercare.desk.models import Status
    from aftercare.desk.tests.factories import PNG, ticket_for
    from aftercare.mail.ingest import ingest
    from aftercare.mail.tests.factories import make_mail
    from aftercare.webhooks.models import Subscription

    owner.email = "ana@alpha.example"
    owner.save()
    first = ticket_for(
        owner,
        org,
        subject="Ünïcode ✓ invoice",
        attachments=[SimpleUploadedFile("scan.png", PNG, content_type="image/png")],
    )
    services.reply(
        ticket=first,
        actor=operator,
        body="Please send the log.",
        attachments=[SimpleUploadedFile("howto.txt", b"step 1\nstep 2\n")],
    )
    services.reply(ticket=first, actor=consultant, body="Internal: known bug", internal=True)
    services.transition(ticket=first, actor=operator, target=Status.SPRINT)
    services.assign(ticket=first, actor=operator, assignee=consultant)
    approvals.request(ticket=first, actor=operator, action="Apply the hotfix")
    second = ticket_for(outsider, other_org, subject="Beta: stock report")
    services.transition(ticket=second, actor=operator, target=Status.REJECTED, reason="Duplicate")
    ingest(
        make_mail(
            subject="Mail with a log",
            attachments=[("app.log", "text/plain", b"ERROR 42\n" * 50)],
        ),
        source="tests",
    )
    issue(user=coordinator, name="integration")
    Subscription.objects.create(
        name="chat", target_url="https://hooks.example/x", events=["ticket.created"], active=False
    )


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and command
        [sys.executable, "-m", "aftercare", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _connect(url: str):
    if url.startswith("sqlite:///"):
        return sqlite3.connect(url.removeprefix("sqlite:///"))
    import psycopg

    return psycopg.connect(url)


def table_rows(url: str) -> dict[str, list[tuple]]:
    """Every row of every table (all columns), in a stable order."""
    with closing(_connect(url)) as conn:
        cursor = conn.cursor()
        if url.startswith("sqlite"):
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        tables = sorted(
            r[0]
            for r in cursor.fetchall()
            if r[0] not in NOT_COMPARED and not r[0].startswith(NOT_COMPARED_PREFIXES)
        )
        result = {}
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the catalogue
            result[table] = sorted(cursor.fetchall(), key=repr)
        return result


def file_digests(root: Path, names) -> dict[str, str]:
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in names}
