"""``aftercare telegram-poll``: fetch Telegram updates by long polling (no public URL
needed) and process each through the same intake as the webhook.

An update is confirmed to Telegram (the next offset) only after it was processed; after
a crash Telegram delivers it again and intake's unique key makes that harmless.
"""

from __future__ import annotations

import logging

from django.core.management.base import CommandError

from aftercare.channels.base import ChannelError
from aftercare.channels.telegram import TelegramAdapter
from aftercare.ops.maintenance import MaintenanceError, WritingCommand

log = logging.getLogger(__name__)


class Command(WritingCommand):
    help = "Fetch Telegram updates by long polling and process them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Fetch one batch, then stop.")
        parser.add_argument(
            "--timeout", type=int, default=30, help="Seconds one long poll waits (default 30)."
        )

    def handle(self, *args, once: bool = False, timeout: int = 30, **options) -> None:
        from aftercare.channels import intake

        adapter = TelegramAdapter()
        if not adapter.enabled:
            raise CommandError("Telegram is off: set AFTERCARE_TELEGRAM_TOKEN.")
        offset = None
        processed = 0
        while True:
            try:
                updates = adapter.get_updates(offset, max(0, min(timeout, 50)))
            except ChannelError as exc:
                if once:
                    raise CommandError(f"Telegram refused the poll: {exc}") from exc
                log.warning("telegram poll failed: %s", exc)
                continue
            for update in updates:
                message = adapter.parse(update)
                try:
                    if message is not None and intake.handle(adapter, message) is not None:
                        processed += 1
                except MaintenanceError:
                    raise
                update_id = update.get("update_id")
                if isinstance(update_id, int):
                    offset = update_id + 1
            if once:
                if offset is not None:
                    adapter.get_updates(offset, 0)  # confirm the batch to Telegram
                break
        self.stdout.write(f"{processed} message(s) processed.")
