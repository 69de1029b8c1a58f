"""A default plan so a fresh installation measures service levels at once."""

from django.db import migrations

from aftercare.sla.defaults import ensure_default_plan


def create(apps, schema_editor):
    ensure_default_plan(apps.get_model("sla", "SlaPlan"), apps.get_model("sla", "SlaTarget"))


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
