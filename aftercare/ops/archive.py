"""What a backup archive holds, shared by ``backup`` and ``restore``.

An archive is a ``.tar.gz`` with, in this order:

- ``database/aftercare.sqlite3`` (SQLite online backup API) or
  ``database/aftercare.pgdump`` (``pg_dump`` custom format): the native snapshot;
- ``data/<app>.<model>.jsonl``: the portable dump, one JSON object per row (Django's
  ``jsonl`` serializer, timestamps to the microsecond), every model including the
  many-to-many link tables, so ids are kept everywhere; it restores into any engine;
- ``media/<name>``: every file a ``FileField`` row refers to;
- ``manifest.json`` last: versions, engine, applied migrations, row counts per table and
  the sha256 of every other member.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from importlib import metadata

from django.apps import apps
from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

FORMAT = 1
PREFIX = "aftercare-backup-"
SUFFIX = ".tar.gz"
STAMP = "%Y%m%dT%H%M%SZ"
NAME_RE = re.compile(r"^aftercare-backup-(\d{8}T\d{6}Z)\.tar\.gz$")
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/aftercare.sqlite3"
PGDUMP_MEMBER = "database/aftercare.pgdump"

# Operational state, not data: a restore never copies the maintenance switch.
EXCLUDED_MODELS = frozenset({"ops.maintenanceflag"})
# Rows a freshly migrated instance already has; a restore target may hold these only
# (besides the models of apps whose migrations insert rows, see restore.non_empty_tables).
SEEDED_MODELS = frozenset(
    {
        "contenttypes.contenttype",
        "auth.permission",
        "auth.group",
        "sla.slaplan",
        "sla.slatarget",
        "sla.calendar",
        "sessions.session",
        "ops.maintenanceflag",
    }
)
# An instance with any of these is in use, whatever its migrations created.
CORE_MODELS = frozenset({"accounts.user", "tenancy.organisation", "desk.ticket"})


class ExactEncoder(DjangoJSONEncoder):
    """DjangoJSONEncoder cuts times to milliseconds; a backup keeps microseconds."""

    def default(self, o):
        if isinstance(o, dt.datetime | dt.time):
            return o.isoformat()
        return super().default(o)


def label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def archive_name(at: dt.datetime) -> str:
    return f"{PREFIX}{at.astimezone(dt.UTC).strftime(STAMP)}{SUFFIX}"


def archive_time(name: str) -> dt.datetime | None:
    match = NAME_RE.match(name)
    if not match:
        return None
    return dt.datetime.strptime(match.group(1), STAMP).replace(tzinfo=dt.UTC)


def data_models() -> list[type[models.Model]]:
    """Every stored model in dependency order, then the auto-created many-to-many tables."""
    app_list = [(config, None) for config in apps.get_app_configs()]
    ordered = serializers.sort_dependencies(app_list, allow_cycles=True)
    result: list[type[models.Model]] = []
    seen: set[str] = set()
    for model in ordered:
        opts = model._meta
        if opts.proxy or not opts.managed or label(model) in EXCLUDED_MODELS:
            continue
        if label(model) not in seen:
            seen.add(label(model))
            result.append(model)
    for model in list(result):
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            if through._meta.auto_created and label(through) not in seen:
                seen.add(label(through))
                result.append(through)
    return result


def serialized_fields(model: type[models.Model]) -> list[str]:
    """Local columns only: many-to-many links travel as their own table, with their ids."""
    return [f.name for f in model._meta.local_fields]


def file_fields(model: type[models.Model]) -> list[models.FileField]:
    return [f for f in model._meta.local_concrete_fields if isinstance(f, models.FileField)]


def safe_member(name: str) -> bool:
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and ".." not in parts and "" not in parts


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def aftercare_version() -> str:
    try:
        return metadata.version("aftercare")
    except metadata.PackageNotFoundError:
        return "unknown"
