"""The dashboard's created and solved per week, filtered to some customers, read only
those customers' index entries in the period (without these, PostgreSQL combines the
``organisation`` index, which grows with the whole history, with the date index)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("desk", "0008_links_merge_resolved")]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["organisation", "created_at"], name="ticket_org_created"),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["organisation", "resolved_at"], name="ticket_org_resolved"),
        ),
    ]
