"""The open queue at a million requests (issue 17, ``bench/console.py`` at 1M).

Partial indexes over the open requests only, so their size follows the open set, not the
history: the L1 order (priority, then arrival) and the default order (last updated) walk
an index and stop after a page, and the sidebar's and the list's counts read the covering
index alone (an index-only scan, no heap page).
"""

from django.db import migrations, models

OPEN = models.Q(("status__in", ("backlog", "sprint", "in_progress", "waiting", "done")))


class Migration(migrations.Migration):
    dependencies = [("desk", "0011_followup")]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=OPEN, fields=["priority", "created_at", "id"], name="ticket_open_arrival"
            ),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=OPEN, fields=["-updated_at", "-id"], name="ticket_open_updated"
            ),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=OPEN,
                fields=["status"],
                include=(
                    "id",
                    "assignee",
                    "level",
                    "priority",
                    "organisation",
                    "category",
                    "sla_due_at",
                    "sla_warn_at",
                    "sla_state",
                ),
                name="ticket_open_cover",
            ),
        ),
    ]
