"""A default plan and calendar so a fresh installation measures service levels at once."""

from django.db import migrations

# Business minutes (Mon-Fri 09:00-18:00 = 540 a day). Critical incidents count 24x7.
TARGETS = [
    # priority, first response, resolution, 24x7
    (1, 30, 4 * 60, True),
    (2, 60, 2 * 540, False),
    (3, 4 * 60, 5 * 540, False),
    (4, 540, 10 * 540, False),
]


def create(apps, schema_editor):
    SlaPlan = apps.get_model("sla", "SlaPlan")
    SlaTarget = apps.get_model("sla", "SlaTarget")
    if SlaPlan.objects.exists():
        return
    plan = SlaPlan.objects.create(
        name="Standard", is_default=True, pause_statuses=["waiting"],
        stop_statuses=["done", "released", "archived", "rejected"],
    )
    for priority, first, resolution, always in TARGETS:
        SlaTarget.objects.create(plan=plan, priority=priority, category="",
                                 first_response_minutes=first, resolution_minutes=resolution,
                                 around_the_clock=always)


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
