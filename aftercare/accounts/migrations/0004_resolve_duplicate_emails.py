"""Before active accounts get unique e-mail addresses (0005): resolve duplicates.

Existing duplicates are resolved first, losing nothing: among the active accounts sharing
an address the oldest (earliest joined, then lowest id) keeps it; each later one gets an
empty address, and a ``SecurityEvent`` (``accounts.email.deduplicated``) records the
address it had and which account kept it, so an administrator can follow up.
"""

from django.db import migrations, models
from django.db.models import Q
from django.db.models.functions import Lower


def resolve_duplicates(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    SecurityEvent = apps.get_model("accounts", "SecurityEvent")
    db = schema_editor.connection.alias
    active = User.objects.using(db).filter(is_active=True).exclude(email="")
    duplicated = (
        active.annotate(low=Lower("email"))
        .values("low")
        .annotate(n=models.Count("pk"))
        .filter(n__gt=1)
        .values_list("low", flat=True)
    )
    for low in list(duplicated):
        users = list(
            active.annotate(low=Lower("email")).filter(low=low).order_by("date_joined", "pk")
        )
        keeper, later = users[0], users[1:]
        for user in later:
            SecurityEvent.objects.using(db).create(
                action="accounts.email.deduplicated",
                subject=user,
                actor=None,
                reason=(
                    f"E-mail address {user.email} removed from this account: active account "
                    f"#{keeper.pk} ({keeper.username}) is older and keeps it."
                ),
            )
            user.email = ""
            user.save(update_fields=["email"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_two_factor"),
    ]

    operations = [
        migrations.RunPython(resolve_duplicates, migrations.RunPython.noop),
    ]
