"""System notes shown in the reader's language, not the author's.

A note the system writes (auto-archive, the customer's reply moving a request on, SLA
escalation, mail intake) is stored twice on its ``Event``: ``note`` holds the text in the
language active when it was written (what exports, webhooks and older readers show), and
``note_id``/``note_params`` the untranslated message and its parameters, so the timeline
renders it again in the language of whoever reads it.

Mark the message with ``gettext_noop`` so it is extracted; a parameter that is itself a
message to translate (a status or metric label) is given as ``{"msgid": "…"}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext, override


def _resolve(value):
    if isinstance(value, dict) and "msgid" in value:
        return gettext(value["msgid"])
    return value


def render(msgid: str, params: dict | None, fallback: str = "") -> str:
    """``msgid`` translated into the active language, with its parameters; the stored
    text when the message cannot be rendered (a renamed placeholder, bad parameters)."""
    try:
        text = gettext(msgid)
        return text % {k: _resolve(v) for k, v in (params or {}).items()} if params else text
    except (KeyError, TypeError, ValueError):
        return fallback or msgid


@dataclass(frozen=True)
class Note:
    """A system note to render at display time; ``str()`` renders it now."""

    msgid: str
    params: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return render(self.msgid, self.params)

    def strip(self) -> str:  # callers test notes like strings (``note.strip()``)
        return str(self).strip()

    def __bool__(self) -> bool:
        return bool(self.msgid)


def deferred(msgid: str, **params) -> Note:
    return Note(msgid, params)


def label(lazy) -> dict:
    """A choice label (``gettext_lazy``) as a parameter translated at display time."""
    with override(None):  # no active catalogue: the untranslated message
        return {"msgid": str(lazy)}
