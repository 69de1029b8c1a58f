"""``SearchDocument.is_open`` and, on PostgreSQL, a GIN index of the open requests'
documents alone (issue 17: the queue's text filter at a million requests)."""

from django.db import migrations, models

# desk.models.OPEN_STATUSES when this was written (a migration keeps its own copy).
OPEN_STATUSES = ("backlog", "sprint", "in_progress", "waiting", "done")


def mark_open(apps, schema_editor):
    SearchDocument = apps.get_model("search", "SearchDocument")
    Ticket = apps.get_model("desk", "Ticket")
    open_ids = Ticket.objects.filter(status__in=OPEN_STATUSES).values("pk")
    SearchDocument.objects.filter(ticket_id__in=open_ids).update(is_open=True)


def restore_sqlite_triggers(apps, schema_editor):
    """SQLite adds (and removes) a NOT NULL column by copying the table into a new one,
    which drops the triggers that keep the FTS5 table in step; put them back (IF NOT
    EXISTS), after the column is added and after it is removed."""
    from aftercare.search import backend

    if schema_editor.connection.vendor == "sqlite":
        for sql in backend.SQLITE_CREATE:
            schema_editor.execute(sql)


def create_open_index(apps, schema_editor):
    from aftercare.search import backend

    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(backend.POSTGRES_OPEN_INDEX)
    restore_sqlite_triggers(apps, schema_editor)


def drop_open_index(apps, schema_editor):
    from aftercare.search import backend

    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(backend.POSTGRES_OPEN_INDEX_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0001_search_index"),
        ("desk", "0012_bench_scale_indexes"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_triggers),
        migrations.AddField(
            model_name="searchdocument",
            name="is_open",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(mark_open, migrations.RunPython.noop),
        migrations.RunPython(create_open_index, drop_open_index),
    ]
