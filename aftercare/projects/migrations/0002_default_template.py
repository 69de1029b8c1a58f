from django.db import migrations


def create_default(apps, schema_editor):
    from aftercare.projects.defaults import ensure_default

    ensure_default(apps)


class Migration(migrations.Migration):
    dependencies = [("projects", "0001_initial")]

    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
