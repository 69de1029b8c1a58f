"""Post due webhook deliveries now (the worker does it every minute and after each change)."""

from __future__ import annotations

from aftercare.ops.maintenance import WritingCommand
from aftercare.webhooks.tasks import run_deliveries


class Command(WritingCommand):
    help = "Post webhook deliveries that are due, and forget old finished ones."

    def handle(self, *args, **options):
        counts = run_deliveries(purge=True)
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()))
