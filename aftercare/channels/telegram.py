"""Telegram, through python-telegram-bot, against the Bot API (HTTPS by default).

The library is asynchronous; Django's views, commands and jobs are not. Each call runs in
its own short event loop (``asyncio.run``) with a fresh ``Bot``: a few milliseconds more
per call, and no loop or connection pool shared between threads or forked workers.
The base URL comes from ``AFTERCARE_TELEGRAM_API_URL`` (tests point it at a fake server
on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

from aftercare.channels.base import (
    Adapter,
    ChannelError,
    InboundAttachment,
    InboundMessage,
    OutboundFile,
    register,
)
from aftercare.channels.models import ChannelKind

log = logging.getLogger(__name__)
# httpx logs every request's URL at INFO, and a Bot API URL contains the bot token: keep
# it out of the logs.
logging.getLogger("httpx").setLevel(logging.WARNING)
T = TypeVar("T")

MAX_TEXT = 4096  # Telegram's limit for one message
MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API serves files up to 20 MB


def _bounded(value, limit: int) -> str:
    return str(value or "")[:limit]


@register
class TelegramAdapter(Adapter):
    identifier = ChannelKind.TELEGRAM

    def __init__(self, token: str | None = None, api_url: str | None = None) -> None:
        self.token = settings.AFTERCARE_TELEGRAM_TOKEN if token is None else token
        self.api_url = (api_url or settings.AFTERCARE_TELEGRAM_API_URL).rstrip("/")

    @property
    def enabled(self) -> bool:
        return bool(self.token)

    # -- the library, synchronously ------------------------------------------------------

    def _run(self, call: Callable[..., Awaitable[T]], *, read_timeout: float = 20) -> T:
        if not self.enabled:
            raise ChannelError("Telegram is not configured (AFTERCARE_TELEGRAM_TOKEN).")
        from telegram import Bot
        from telegram.error import TelegramError
        from telegram.request import HTTPXRequest

        async def main() -> T:
            bot = Bot(
                self.token,
                base_url=f"{self.api_url}/bot",
                base_file_url=f"{self.api_url}/file/bot",
                request=HTTPXRequest(connect_timeout=5, read_timeout=read_timeout),
                get_updates_request=HTTPXRequest(connect_timeout=5, read_timeout=read_timeout),
            )
            async with bot:
                return await call(bot)

        try:
            return asyncio.run(main())
        except TelegramError as exc:
            raise ChannelError(f"{type(exc).__name__}: {exc}") from exc

    # -- the adapter contract ------------------------------------------------------------

    def parse(self, update: dict) -> InboundMessage | None:
        """A new message in a private chat; ``None`` for everything else (edits, groups,
        channel posts, callback queries)."""
        if not isinstance(update, dict):
            return None
        message = update.get("message")
        if not isinstance(message, dict):
            return None
        chat = message.get("chat") or {}
        if not isinstance(chat, dict) or chat.get("type", "private") != "private":
            return None  # the bot serves one person per chat
        if "id" not in chat or "message_id" not in message:
            return None
        sender = message.get("from") or {}
        if not isinstance(sender, dict) or sender.get("is_bot"):
            return None
        name = " ".join(
            p
            for p in (
                _bounded(sender.get("first_name"), 100),
                _bounded(sender.get("last_name"), 100),
            )
            if p
        )
        if sender.get("username"):
            name = f"{name} (@{_bounded(sender['username'], 64)})".strip()
        attachments: list[InboundAttachment] = []
        photos = message.get("photo")
        if isinstance(photos, list) and photos:
            # Sizes of one picture, smallest first: keep the largest.
            best = max(
                (p for p in photos if isinstance(p, dict) and p.get("file_id")),
                key=lambda p: p.get("file_size") or p.get("width", 0) * p.get("height", 0),
                default=None,
            )
            if best is not None:
                attachments.append(
                    InboundAttachment(
                        name=f"photo-{message['message_id']}.jpg",
                        content_type="image/jpeg",
                        ref=_bounded(best["file_id"], 255),
                        size=best.get("file_size"),
                    )
                )
        document = message.get("document")
        if isinstance(document, dict) and document.get("file_id"):
            attachments.append(
                InboundAttachment(
                    name=_bounded(document.get("file_name"), 200)
                    or f"file-{message['message_id']}",
                    content_type=_bounded(document.get("mime_type"), 100)
                    or "application/octet-stream",
                    ref=_bounded(document["file_id"], 255),
                    size=document.get("file_size"),
                )
            )
        reply = message.get("reply_to_message") or {}
        if not isinstance(reply, dict):
            reply = {}
        update_id = update.get("update_id")
        return InboundMessage(
            channel=self.identifier,
            chat_id=_bounded(chat["id"], 64),
            platform_id=_bounded(message["message_id"], 64),
            sender_display=name[:255],
            text=_bounded(message.get("text") or message.get("caption"), 20000),
            attachments=tuple(attachments[:10]),
            reply_to=_bounded(reply.get("message_id"), 64),
            reply_to_text=_bounded(reply.get("text") or reply.get("caption"), 4096),
            update_id=update_id if isinstance(update_id, int) else None,
            raw={"update_id": update_id, "message": {"message_id": message["message_id"]}},
        )

    def download(self, attachment: InboundAttachment) -> bytes:
        if attachment.size and attachment.size > MAX_DOWNLOAD:
            raise ChannelError("the file is larger than the Bot API serves")

        async def fetch(bot):
            file = await bot.get_file(attachment.ref)
            if file.file_size and file.file_size > MAX_DOWNLOAD:
                raise ChannelError("the file is larger than the Bot API serves")
            return bytes(await file.download_as_bytearray())

        return self._run(fetch, read_timeout=60)

    def send(self, chat_id: str, text: str, attachments: tuple[OutboundFile, ...] = ()) -> str:
        from telegram import InputFile

        async def post(bot):
            first = await bot.send_message(chat_id=chat_id, text=text[:MAX_TEXT])
            for item in attachments:
                await bot.send_document(
                    chat_id=chat_id, document=InputFile(item.data, filename=item.name)
                )
            return str(first.message_id)

        return self._run(post, read_timeout=60)

    def username(self) -> str:
        """The bot's @name (for deep links), cached for a day; '' if it cannot be read."""
        if not self.enabled:
            return ""
        key = f"channels:telegram:username:{self.api_url}"
        name = cache.get(key)
        if name is None:
            try:
                me = self._run(lambda bot: bot.get_me(), read_timeout=10)
            except ChannelError as exc:
                log.warning("could not read the Telegram bot's name: %s", exc)
                return ""
            name = me.username or ""
            cache.set(key, name, 86400)
        return name

    def link_hint(self, code: str) -> str:
        name = self.username()
        return f"https://t.me/{name}?start={code}" if name else ""

    def get_updates(self, offset: int | None, timeout: int) -> list[dict]:
        async def poll(bot):
            updates = await bot.get_updates(
                offset=offset, timeout=timeout, allowed_updates=["message"]
            )
            return [u.to_dict() for u in updates]

        return self._run(poll, read_timeout=timeout + 15)

    def set_webhook(self, url: str, secret: str) -> bool:
        return self._run(
            lambda bot: bot.set_webhook(
                url=url, secret_token=secret or None, allowed_updates=["message"]
            )
        )

    def delete_webhook(self) -> bool:
        return self._run(lambda bot: bot.delete_webhook())
