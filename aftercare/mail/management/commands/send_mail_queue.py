"""Send queued notifications now (the worker does it every minute and after each change)."""

from __future__ import annotations

from aftercare.mail.tasks import run_outbox
from aftercare.ops.maintenance import WritingCommand


class Command(WritingCommand):
    help = "Send outgoing mail that is due."

    def handle(self, *args, **options):
        counts = run_outbox()
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()))
