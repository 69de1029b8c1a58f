"""Restore an archive into an empty, migrated instance — always through the portable dump.

The portable path is exact on every engine: rows keep their primary keys (also in the
many-to-many link tables) and timestamps to the microsecond, because rows are inserted
raw (no ``auto_now``, no signals) and sequences are reset afterwards. It is also the path
that moves an instance from the embedded SQLite to PostgreSQL. Order of checks: every
member's checksum, then the migration state, then that the target is empty; only then
files are written and the data loaded in one transaction (all or nothing).
"""

from __future__ import annotations

import hashlib
import json
import logging
import tarfile
import tempfile
import zlib
from pathlib import Path

from django.apps import apps
from django.core import serializers
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.loader import MigrationLoader
from django_scopes import scopes_disabled

from aftercare.ops import archive as fmt

log = logging.getLogger(__name__)


class RestoreError(Exception):
    pass


def _extract_verified(archive: Path, workdir: Path) -> dict:
    """Unpack into ``workdir`` while hashing; refuse on any damage or mismatch."""
    hashes: dict[str, str] = {}
    manifest = None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = member.name
                if not member.isfile() or not fmt.safe_member(name):
                    raise RestoreError(f"unexpected entry in the archive: {name!r}")
                source = tar.extractfile(member)
                if name == fmt.MANIFEST:
                    manifest = json.loads(source.read().decode("utf-8"))
                    continue
                target = workdir / name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with target.open("wb") as out:
                    for chunk in iter(lambda src=source: src.read(1 << 20), b""):
                        digest.update(chunk)
                        out.write(chunk)
                hashes[name] = digest.hexdigest()
            # Read to the end so gzip checks its own CRC as well.
            while tar.fileobj.read(1 << 20):
                pass
    except RestoreError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError) as exc:
        raise RestoreError(f"the archive is damaged or not an Aftercare backup: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != fmt.FORMAT:
        raise RestoreError("the archive has no readable manifest (not an Aftercare backup?)")
    expected = {name: entry["sha256"] for name, entry in manifest["files"].items()}
    bad = sorted(n for n in expected if hashes.get(n) != expected[n])
    extra = sorted(set(hashes) - set(expected))
    if bad or extra:
        raise RestoreError(
            "checksum verification failed, the archive was changed or damaged: "
            + ", ".join(bad + [f"{n} (not in manifest)" for n in extra])
        )
    return manifest


def _check_migrations(manifest: dict, alias: str) -> None:
    loader = MigrationLoader(connections[alias], ignore_no_migrations=True)
    archived = {(app, name) for app, names in manifest["migrations"].items() for name in names}
    unknown = sorted(archived - set(loader.disk_migrations))
    if unknown:
        listed = ", ".join(f"{app}.{name}" for app, name in unknown)
        raise RestoreError(
            "the archive was made by a newer version of Aftercare (migrations this code "
            f"does not have: {listed}); upgrade Aftercare first, then restore"
        )
    applied = set(loader.applied_migrations)
    if archived != applied:
        missing = sorted(archived - applied)
        ahead = sorted(applied - archived)
        raise RestoreError(
            "the target database is not at the archive's migration state: run "
            "`aftercare migrate` for a newer archive; for an older archive migrate the "
            "target back to the archive's migrations first, restore, then migrate "
            f"(not applied here: {missing[:5]}; applied here only: {ahead[:5]})"
        )


def _seeding_apps(alias: str) -> set[str]:
    """Apps whose migrations insert rows (``RunPython``): a fresh instance has those rows."""
    from django.db.migrations.operations import RunPython

    loader = MigrationLoader(connections[alias], ignore_no_migrations=True)
    return {
        app
        for (app, _name), migration in loader.disk_migrations.items()
        if any(isinstance(op, RunPython) for op in migration.operations)
    }


def non_empty_tables(alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Tables with rows that a freshly migrated instance would not have.

    Rows that migrations create (permissions, staff groups, the default SLA plan, plan
    templates …) do not count; users, organisations and requests always do.
    """
    seeding = _seeding_apps(alias)
    found = []
    with scopes_disabled():
        for model in fmt.data_models():
            name = fmt.label(model)
            if name not in fmt.CORE_MODELS and (
                model._meta.auto_created
                or name in fmt.SEEDED_MODELS
                or model._meta.app_label in seeding
            ):
                continue
            if model._base_manager.using(alias).exists():
                found.append(model._meta.db_table)
    return found


def _restore_media(manifest: dict, workdir: Path) -> int:
    count = 0
    for name in manifest["media"]:
        source = workdir / "media" / name
        if default_storage.exists(name):
            digest = hashlib.sha256()
            with default_storage.open(name, "rb") as fh:
                for chunk in iter(lambda stored=fh: stored.read(1 << 20), b""):
                    digest.update(chunk)
            same = digest.hexdigest() == fmt.sha256_file(source)
            if same:
                continue
            default_storage.delete(name)
        with source.open("rb") as fh:
            saved = default_storage.save(name, File(fh, name=name))
        if saved != name:
            raise RestoreError(f"storage saved {name!r} as {saved!r}")
        count += 1
    return count


def _load(manifest: dict, workdir: Path, alias: str) -> int:
    conn = connections[alias]
    models = []
    for model_label in manifest["models"]:
        try:
            models.append(apps.get_model(model_label))
        except LookupError:
            raise RestoreError(f"this code has no model {model_label!r}") from None
    tables = sorted(
        t
        for t in conn.introspection.django_table_names(only_existing=True)
        if t not in {apps.get_model(m)._meta.db_table for m in fmt.EXCLUDED_MODELS}
    )
    total = 0
    with transaction.atomic(using=alias), scopes_disabled():
        conn.ops.execute_sql_flush(
            conn.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True)
        )
        for model in models:
            path = workdir / "data" / f"{fmt.label(model)}.jsonl"
            total += _load_model(model, path, alias)
        with conn.cursor() as cursor:
            for sql in conn.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(sql)
        if conn.vendor == "sqlite":
            conn.check_constraints()
        counts = manifest["row_counts"]
        with conn.cursor() as cursor:
            for model in models:
                table = model._meta.db_table
                cursor.execute(f"SELECT COUNT(*) FROM {conn.ops.quote_name(table)}")  # noqa: S608
                got = cursor.fetchone()[0]
                if table in counts and got != counts[table]:
                    raise RestoreError(f"{table}: {got} rows loaded, archive has {counts[table]}")
    return total


def _load_model(model, path: Path, alias: str) -> int:
    """Insert raw (no ``auto_now``, no signals), in batches the backend accepts."""
    fields = list(model._meta.local_concrete_fields)
    batch: list = []
    count = 0
    size = max(1, connections[alias].ops.bulk_batch_size(fields, [None] * 1000) or 1000)

    def flush() -> None:
        if batch:
            model._base_manager.using(alias)._insert(batch, fields=fields, raw=True, using=alias)
            batch.clear()

    with path.open(encoding="utf-8") as fh:
        for item in serializers.deserialize("jsonl", fh, using=alias):
            batch.append(item.object)
            count += 1
            if len(batch) >= min(size, 500):
                flush()
    flush()
    return count


def restore_archive(archive: Path | str, *, force: bool = False) -> dict:
    """Restore ``archive`` into this instance's database and storage; return its manifest."""
    archive = Path(archive)
    if not archive.is_file():
        raise RestoreError(f"{archive}: no such file")
    alias = DEFAULT_DB_ALIAS
    with tempfile.TemporaryDirectory(prefix="aftercare-restore-") as tmp:
        workdir = Path(tmp)
        manifest = _extract_verified(archive, workdir)
        _check_migrations(manifest, alias)
        busy = non_empty_tables(alias)
        if busy and not force:
            raise RestoreError(
                "the target instance already holds data (in "
                + ", ".join(busy[:8])
                + "); restore into a freshly migrated, empty instance, or pass --force to "
                "replace everything in it"
            )
        files = _restore_media(manifest, workdir)
        rows = _load(manifest, workdir, alias)
    log.info("restored %s: %d rows, %d files written", archive, rows, files)
    manifest["restored_rows"] = rows
    return manifest
