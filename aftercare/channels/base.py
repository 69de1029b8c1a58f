"""The adapter contract every messenger implements (Telegram first; Viber, WhatsApp next).

An adapter knows one platform and nothing of the desk: it turns what the platform sends
into a neutral :class:`InboundMessage` that ``channels.intake.handle`` processes, fetches a
file when intake decides to keep it, and sends text (and files) to a chat. Intake, linking,
triage and outbound delivery are shared, so every messenger obeys the same rules.

Duties of an adapter:

* ``parse`` must never raise on odd input: return ``None`` for what it does not handle
  (edits, stickers, service messages) and bound every string it keeps.
* ``platform_id`` must be stable for one message: intake's unique key on
  (channel, chat, platform id) is what makes a redelivered update harmless.
* ``download`` and ``send`` raise :class:`ChannelError` for anything the platform or the
  network refuses; intake and the outbox decide what to do (keep, retry, tell).
* Nothing blocks for long: every call has a timeout.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ChannelError(Exception):
    """The messenger (or the network to it) refused or failed a call."""


@dataclass(frozen=True)
class InboundAttachment:
    """A file in a message. ``data`` is filled by ``Adapter.download(ref)`` when kept."""

    name: str
    content_type: str
    ref: str  # the platform's handle to fetch it (Telegram: file_id)
    size: int | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class InboundMessage:
    channel: str
    chat_id: str
    platform_id: str
    sender_display: str = ""
    text: str = ""
    attachments: tuple[InboundAttachment, ...] = ()
    reply_to: str = ""  # the platform id of the message this one answers
    reply_to_text: str = ""  # its text (a bot message carries the request number)
    update_id: int | None = None
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OutboundFile:
    name: str
    content_type: str
    data: bytes


class Adapter:
    """Base class; subclasses set ``identifier`` (a ``ChannelKind`` value)."""

    identifier = ""

    @property
    def enabled(self) -> bool:
        raise NotImplementedError

    def parse(self, update: dict) -> InboundMessage | None:
        raise NotImplementedError

    def download(self, attachment: InboundAttachment) -> bytes:
        raise NotImplementedError

    def send(self, chat_id: str, text: str, attachments: tuple[OutboundFile, ...] = ()) -> str:
        """Send to a chat; the platform id of the (first) message sent."""
        raise NotImplementedError

    def link_hint(self, code: str) -> str:
        """A deep link that opens the chat with the code filled in ('' if none)."""
        return ""


_REGISTRY: dict[str, type[Adapter]] = {}


def register(cls: type[Adapter]) -> type[Adapter]:
    _REGISTRY[cls.identifier] = cls
    return cls


def adapter_for(identifier: str) -> Adapter:
    # Imported here so each adapter module registers itself.
    from aftercare.channels import telegram  # noqa: F401

    return _REGISTRY[identifier]()
