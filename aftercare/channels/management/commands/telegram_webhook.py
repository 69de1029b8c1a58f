"""``aftercare telegram-webhook --set URL`` registers the webhook with Telegram (with the
secret token); ``--delete`` removes it (needed before ``telegram-poll``)."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from aftercare.channels.base import ChannelError
from aftercare.channels.telegram import TelegramAdapter

SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class Command(BaseCommand):
    help = "Register (--set BASE_URL) or remove (--delete) the Telegram webhook."

    def add_arguments(self, parser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument(
            "--set",
            metavar="URL",
            help="The site's public https base URL (the webhook path is added) or the full "
            "webhook URL.",
        )
        group.add_argument("--delete", action="store_true", help="Remove the webhook.")

    def handle(self, *args, **options) -> None:
        adapter = TelegramAdapter()
        if not adapter.enabled:
            raise CommandError("Telegram is off: set AFTERCARE_TELEGRAM_TOKEN.")
        try:
            if options["delete"]:
                adapter.delete_webhook()
                self.stdout.write("Webhook removed.")
                return
            secret = settings.AFTERCARE_TELEGRAM_WEBHOOK_SECRET
            if not SECRET_RE.match(secret or ""):
                raise CommandError(
                    "Set AFTERCARE_TELEGRAM_WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -) first."
                )
            url = options["set"].rstrip("/")
            path = reverse("channels_webhook:telegram", args=[secret])
            if "/channels/telegram/webhook/" not in url:
                url += path
            if not url.startswith("https://"):
                raise CommandError("Telegram delivers webhooks to https:// addresses only.")
            adapter.set_webhook(url, secret)
        except ChannelError as exc:
            raise CommandError(f"Telegram refused: {exc}") from exc
        self.stdout.write("Webhook set: " + url.replace(secret, "***"))
