"""Online backup: one archive with a native snapshot, a portable dump and the files.

Consistency: on SQLite the online backup API copies the database page by page into a
snapshot file, and everything else (portable dump, row counts, list of files) is read
from that snapshot, so it all describes one instant. On PostgreSQL one REPEATABLE READ
transaction exports its snapshot; ``pg_dump --snapshot`` and the portable dump read that
same snapshot. Writers are never blocked. Attachment files are immutable once written
(a new upload gets a new name), so copying the files a snapshot refers to is consistent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import django
from django.conf import settings
from django.core import serializers
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from django_scopes import scopes_disabled

from aftercare.ops import archive as fmt

log = logging.getLogger(__name__)


class BackupError(Exception):
    pass


class _HashingReader:
    def __init__(self, fh) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.digest.update(data)
        return data


@contextmanager
def _sqlite_snapshot(workdir: Path) -> Iterator[tuple[str, Path]]:
    """One read transaction: the online backup API and the portable dump both read it.

    A deferred transaction in WAL mode is a snapshot that blocks no writer (Django's own
    transactions are IMMEDIATE, which would take the write lock for the whole backup).
    """
    path = workdir / "aftercare.sqlite3"
    live = connections[DEFAULT_DB_ALIAS]
    live.ensure_connection()
    own = live.get_autocommit() and not live.in_atomic_block
    with live.cursor() as cursor:
        if own:
            cursor.execute("BEGIN DEFERRED")
        try:
            cursor.execute("SELECT COUNT(*) FROM django_migrations")  # pins the snapshot
            target = sqlite3.connect(path)
            try:
                live.connection.backup(target)
            finally:
                target.close()
            yield DEFAULT_DB_ALIAS, path
        finally:
            if own:
                cursor.execute("ROLLBACK")


def _pg_env(params: dict) -> dict[str, str]:
    env = dict(os.environ)
    if params.get("PASSWORD"):
        env["PGPASSWORD"] = str(params["PASSWORD"])
    return env


def pg_args(params: dict) -> list[str]:
    args = []
    if params.get("HOST"):
        args += ["-h", str(params["HOST"])]
    if params.get("PORT"):
        args += ["-p", str(params["PORT"])]
    if params.get("USER"):
        args += ["-U", str(params["USER"])]
    return args


@contextmanager
def _pg_snapshot(workdir: Path) -> Iterator[tuple[str, Path]]:
    """One REPEATABLE READ transaction; pg_dump joins its exported snapshot."""
    path = workdir / "aftercare.pgdump"
    conn = connections[DEFAULT_DB_ALIAS]
    params = conn.settings_dict
    outer = conn.in_atomic_block
    with transaction.atomic():
        with conn.cursor() as cursor:
            snapshot = None
            if not outer:  # only the first statement of a transaction may set this
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
        command = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "-f", str(path)]
        if snapshot:
            command.append(f"--snapshot={snapshot}")
        command += [*pg_args(params), str(params["NAME"])]
        done = subprocess.run(  # noqa: S603 - fixed program, arguments from settings
            command, env=_pg_env(params), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        yield DEFAULT_DB_ALIAS, path


def _migrations(alias: str) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in sorted(MigrationRecorder(connections[alias]).applied_migrations()):
        applied.setdefault(app, []).append(name)
    return applied


def _row_counts(alias: str) -> dict[str, int]:
    conn = connections[alias]
    counts = {}
    with conn.cursor() as cursor:
        for model in fmt.data_models():
            table = model._meta.db_table
            cursor.execute(f"SELECT COUNT(*) FROM {conn.ops.quote_name(table)}")  # noqa: S608
            counts[table] = cursor.fetchone()[0]
    return counts


def _dump_model(model, alias: str, path: Path) -> None:
    rows = model._base_manager.using(alias).order_by("pk").iterator(chunk_size=2000)
    with path.open("w", encoding="utf-8") as fh:
        serializers.serialize(
            "jsonl",
            rows,
            stream=fh,
            fields=fmt.serialized_fields(model),
            cls=fmt.ExactEncoder,
        )


def _media_names(alias: str) -> list[str]:
    names: set[str] = set()
    for model in fmt.data_models():
        for field in fmt.file_fields(model):
            values = model._base_manager.using(alias).exclude(**{field.attname: ""})
            for name in values.values_list(field.attname, flat=True).iterator():
                if name:
                    names.add(name)
    return sorted(names)


def create_backup(output_dir: Path | str | None = None, *, now=None) -> Path:
    """Write one archive into ``output_dir`` (default ``AFTERCARE_BACKUP_DIR``); return it."""
    output = Path(output_dir or settings.AFTERCARE_BACKUP_DIR)
    output.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = now or timezone.now()
    final = output / fmt.archive_name(now)
    partial = final.with_name(final.name + ".partial")
    engine = connections[DEFAULT_DB_ALIAS].vendor
    if engine not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {engine}.")
    files: dict[str, dict] = {}
    try:
        _write(partial, output, now, engine, files)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.chmod(0o600)  # it holds password and token hashes
    partial.replace(final)
    log.info("backup written: %s (%d files)", final, len(files))
    return final


def _write(partial: Path, output: Path, now, engine: str, files: dict[str, dict]) -> None:
    from django.core.files.storage import default_storage

    with tempfile.TemporaryDirectory(dir=output, prefix=".backup-") as tmp, scopes_disabled():
        workdir = Path(tmp)
        snapshot = _sqlite_snapshot if engine == "sqlite" else _pg_snapshot
        with snapshot(workdir) as (alias, db_file), tarfile.open(partial, "w:gz") as tar:

            def add(path: Path, member: str) -> None:
                files[member] = {"sha256": fmt.sha256_file(path), "size": path.stat().st_size}
                tar.add(path, arcname=member, recursive=False)

            member = fmt.SQLITE_MEMBER if engine == "sqlite" else fmt.PGDUMP_MEMBER
            add(db_file, member)
            models = fmt.data_models()
            (workdir / "data").mkdir()
            for model in models:
                path = workdir / "data" / f"{fmt.label(model)}.jsonl"
                _dump_model(model, alias, path)
                add(path, f"data/{fmt.label(model)}.jsonl")
            media, missing = [], []
            for name in _media_names(alias):
                if not fmt.safe_member(name) or not default_storage.exists(name):
                    missing.append(name)
                    log.warning("backup: attachment file %s is missing from storage", name)
                    continue
                info = tarfile.TarInfo(f"media/{name}")
                info.size = default_storage.size(name)
                info.mtime = int(now.timestamp())
                with default_storage.open(name, "rb") as fh:
                    reader = _HashingReader(fh)
                    tar.addfile(info, reader)
                files[info.name] = {"sha256": reader.digest.hexdigest(), "size": info.size}
                media.append(name)
            manifest = {
                "format": fmt.FORMAT,
                "created_at": now.isoformat(),
                "aftercare_version": fmt.aftercare_version(),
                "django_version": django.get_version(),
                "engine": engine,
                "database": member,
                "migrations": _migrations(alias),
                "row_counts": _row_counts(alias),
                "models": [fmt.label(m) for m in models],
                "media": media,
                "missing_media": missing,
                "files": files,
            }
            path = workdir / fmt.MANIFEST
            path.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
            tar.add(path, arcname=fmt.MANIFEST, recursive=False)
