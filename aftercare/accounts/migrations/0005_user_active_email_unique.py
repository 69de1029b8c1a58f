"""Active accounts have unique e-mail addresses, case-insensitively (SQLite and
PostgreSQL: a partial unique index on lower(email)). A separate migration from the data
step (0004) so that PostgreSQL builds the index in a transaction of its own."""

from django.db import migrations, models
from django.db.models import Q
from django.db.models.functions import Lower


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_resolve_duplicate_emails"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                Lower("email"),
                condition=Q(is_active=True) & ~Q(email=""),
                name="accounts_user_active_email_unique",
                violation_error_message="Another account already uses this e-mail address.",
            ),
        ),
    ]
