"""Run the contact replacement reminder once (the periodic job's twin)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from aftercare.tenancy.tasks import run_contact_reminders


class Command(BaseCommand):
    help = (
        "Remind coordinators of contact persons who left more than two working days ago "
        "without a named replacement."
    )

    def handle(self, *args, **options) -> None:
        queued = run_contact_reminders()
        self.stdout.write(f"{queued} reminder(s) queued")
