import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SavedView",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=80, verbose_name="name")),
                ("is_shared", models.BooleanField(default=False, verbose_name="shared")),
                ("query", models.CharField(blank=True, max_length=1000, verbose_name="filters")),
                ("sort", models.CharField(blank=True, max_length=20, verbose_name="sort")),
                ("position", models.PositiveIntegerField(default=0, verbose_name="position")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="owner",
                    ),
                ),
            ],
            options={
                "verbose_name": "saved view",
                "verbose_name_plural": "saved views",
                "ordering": ["position", "pk"],
                "permissions": [
                    ("manage_shared_views", "Can curate the queue views shared by all agents")
                ],
                "indexes": [
                    models.Index(fields=["owner", "is_shared", "position"], name="savedview_owner")
                ],
            },
        ),
    ]
