from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="MaintenanceFlag",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "is_on",
                    models.BooleanField(default=False, verbose_name="read-only maintenance mode"),
                ),
                (
                    "message",
                    models.CharField(
                        blank=True,
                        help_text="Shown in the banner, e.g. when the work will be done.",
                        max_length=500,
                        verbose_name="message",
                    ),
                ),
                (
                    "changed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="changed at"),
                ),
                (
                    "changed_by",
                    models.CharField(blank=True, max_length=150, verbose_name="changed by"),
                ),
            ],
            options={
                "verbose_name": "maintenance mode",
                "verbose_name_plural": "maintenance mode",
            },
        ),
    ]
