"""Backups: archive contents, exact round trips (also SQLite → PostgreSQL), refusals."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import secrets
import tarfile
from contextlib import closing
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from aftercare.desk.models import Attachment, Ticket
from aftercare.mail.models import InboundMessage
from aftercare.ops.restore import RestoreError, restore_archive
from aftercare.ops.tests.helpers import file_digests, populate, run, table_rows
from conftest import database_url, require_service

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def populated(org, other_org, owner, coordinator, outsider, operator, consultant):
    populate(
        org=org,
        other_org=other_org,
        owner=owner,
        coordinator=coordinator,
        outsider=outsider,
        operator=operator,
        consultant=consultant,
    )


@pytest.fixture
def archive(populated, tmp_path) -> Path:
    call_command("backup", "--output", str(tmp_path / "backups"))
    (path,) = (tmp_path / "backups").glob("aftercare-backup-*.tar.gz")
    return path


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def _repack(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _media_names() -> list[str]:
    names = [a.file.name for a in Attachment.objects.all()]
    names += [m.raw.name for m in InboundMessage.objects.exclude(raw="")]
    return sorted(names)


def test_the_archive_holds_snapshot_portable_dump_files_and_manifest(archive):
    members = _members(archive)
    manifest = json.loads(members["manifest.json"])
    assert manifest["engine"] == connection.vendor
    assert manifest["django_version"].startswith("5.")
    assert manifest["aftercare_version"]
    assert "0001_initial" in manifest["migrations"]["desk"]
    assert manifest["row_counts"]["desk_ticket"] == Ticket.objects.count() == 3
    assert manifest["row_counts"]["accounts_user_groups"] >= 2
    assert manifest["database"] in members
    media = _media_names()
    assert len(media) >= 4  # two attachments, the mail's file, the raw mail
    assert manifest["media"] == media and manifest["missing_media"] == []
    for name in media:
        assert members[f"media/{name}"] == (Path(settings.MEDIA_ROOT) / name).read_bytes()
    assert set(manifest["files"]) == set(members) - {"manifest.json"}
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == hashlib.sha256(members[name]).hexdigest()
    tickets = [json.loads(line) for line in members["data/desk.ticket.jsonl"].splitlines()]
    created = {t["pk"]: t["fields"]["created_at"] for t in tickets}
    for ticket in Ticket.objects.all():
        assert created[ticket.pk] == ticket.created_at.isoformat()  # microseconds kept


def test_a_round_trip_into_a_fresh_database_is_exact(archive, tmp_path):
    source = database_url()
    target, drop = _fresh_database(tmp_path)
    try:
        media = tmp_path / "restored-media"
        env = {
            "DATABASE_URL": target,
            "AFTERCARE_MEDIA_ROOT": str(media),
            "AFTERCARE_DATA_DIR": str(tmp_path / "data"),
        }
        done = run(["migrate", "--noinput"], env)
        assert done.returncode == 0, done.stderr
        done = run(["restore", str(archive)], env)
        assert done.returncode == 0, done.stderr
        assert "Restored" in done.stdout
        expected = table_rows(source)
        got = table_rows(target)
        assert set(got) == set(expected)
        for table, rows in expected.items():
            assert got[table] == rows, table
        assert expected["desk_attachment"] and expected["desk_event"]
        assert expected["sla_slaclock"] and expected["mail_outboundmail"]
        assert expected["search_document"]
        if target.startswith("sqlite"):
            # The full-text index was rebuilt from the restored documents, and agrees.
            import sqlite3

            with closing(sqlite3.connect(target.removeprefix("sqlite:///"))) as db:
                db.execute("INSERT INTO search_fts(search_fts) VALUES ('integrity-check')")
        names = _media_names()
        assert file_digests(media, names) == file_digests(Path(settings.MEDIA_ROOT), names)
        # A second restore into the now populated instance is refused.
        again = run(["restore", str(archive)], env)
        assert again.returncode != 0
        assert "already holds data" in again.stderr
    finally:
        drop()


def _fresh_database(tmp_path: Path):
    if connection.vendor == "sqlite":
        return f"sqlite:///{tmp_path / 'target.sqlite3'}", lambda: None
    return _postgres_database()


def _postgres_database():
    import psycopg

    params = connection.settings_dict if connection.vendor == "postgresql" else {}
    user = params.get("USER") or "postgres"
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    server = f"postgres://{user}@{host}:{port}/postgres"
    name = f"ops_restore_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        require_service("PostgreSQL", str(exc))
    with closing(admin):
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with closing(psycopg.connect(server, autocommit=True)) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgres://{user}@{host}:{port}/{name}", drop


@pytest.mark.postgres
def test_a_sqlite_backup_restores_into_postgresql(archive, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the source of this move is the embedded SQLite database")
    target, drop = _postgres_database()
    try:
        env = {
            "DATABASE_URL": target,
            "AFTERCARE_MEDIA_ROOT": str(tmp_path / "pg-media"),
            "AFTERCARE_DATA_DIR": str(tmp_path / "data"),
        }
        assert run(["migrate", "--noinput"], env).returncode == 0
        done = run(["restore", str(archive)], env)
        assert done.returncode == 0, done.stderr
        # Back up the PostgreSQL instance: its portable dump must equal the original.
        done = run(["backup", "--output", str(tmp_path / "from-pg")], env)
        assert done.returncode == 0, done.stderr
        (pg_archive,) = (tmp_path / "from-pg").glob("*.tar.gz")
        original, moved = _members(archive), _members(pg_archive)
        first, second = json.loads(original["manifest.json"]), json.loads(moved["manifest.json"])
        assert second["engine"] == "postgresql"
        assert second["row_counts"] == first["row_counts"]
        assert second["migrations"] == first["migrations"]
        data = sorted(n for n in original if n.startswith("data/"))
        assert data == sorted(n for n in moved if n.startswith("data/"))
        for name in data:
            rows = [json.loads(line) for line in original[name].splitlines()]
            again = [json.loads(line) for line in moved[name].splitlines()]
            assert again == rows, name
        for name in first["media"]:
            assert moved[f"media/{name}"] == original[f"media/{name}"]
        # New rows get fresh ids: the sequences were reset past the restored ones.
        done = run(["shell", "-c", _NEW_TICKET], env)
        assert done.returncode == 0, done.stderr
        assert int(done.stdout.split()[-1]) > max(Ticket.objects.values_list("pk", flat=True))
    finally:
        drop()


_NEW_TICKET = """
from django_scopes import scopes_disabled
from aftercare.accounts.models import User
from aftercare.desk.tests.factories import ticket_for
from aftercare.tenancy.models import Organisation
with scopes_disabled():
    t = ticket_for(User.objects.get(username="owner"), Organisation.objects.get(code="alpha"))
print(t.pk)
"""


def test_force_replaces_a_non_empty_instance_exactly(archive, owner, org):
    from aftercare.desk.tests.factories import ticket_for

    before = table_rows(database_url())
    ticket_for(owner, org, subject="made after the backup")
    with pytest.raises(RestoreError, match="already holds data"):
        restore_archive(archive)
    with pytest.raises(CommandError, match="already holds data"):
        call_command("restore", str(archive))
    assert Ticket.objects.filter(subject="made after the backup").exists()
    call_command("restore", str(archive), "--force")
    assert table_rows(database_url()) == before


def test_a_flipped_byte_is_refused(archive):
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    archive.write_bytes(bytes(data))
    with pytest.raises(CommandError, match="Restore refused"):
        call_command("restore", str(archive), "--force")
    assert Ticket.objects.count() == 3


def test_a_changed_member_fails_its_checksum(archive):
    members = _members(archive)
    members["data/desk.ticket.jsonl"] = members["data/desk.ticket.jsonl"].replace(
        b"invoice", b"invoicf"
    )
    _repack(archive, members)
    with pytest.raises(RestoreError, match=r"checksum verification failed.*desk\.ticket"):
        restore_archive(archive, force=True)
    subject = Ticket.objects.filter(subject__contains="invoice")
    assert subject.exists()


def test_an_archive_from_newer_code_is_refused(archive):
    members = _members(archive)
    manifest = json.loads(members["manifest.json"])
    manifest["migrations"]["desk"].append("9999_from_the_future")
    members["manifest.json"] = json.dumps(manifest).encode()
    _repack(archive, members)
    with pytest.raises(RestoreError, match=r"newer version.*desk\.9999_from_the_future"):
        restore_archive(archive, force=True)


def test_a_file_that_is_not_an_archive_is_refused(tmp_path, db):
    path = tmp_path / "aftercare-backup-20260101T000000Z.tar.gz"
    path.write_bytes(gzip.compress(b"hello"))
    with pytest.raises(RestoreError, match="damaged or not an Aftercare backup"):
        restore_archive(path)
