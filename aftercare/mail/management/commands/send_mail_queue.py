"""Send queued notifications now (the worker does it every minute and after each change)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from aftercare.mail.tasks import run_outbox


class Command(BaseCommand):
    help = "Send outgoing mail that is due."

    def handle(self, *args, **options):
        counts = run_outbox()
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()))
