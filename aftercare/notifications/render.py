"""What a notification says, in the reader's language (the active one)."""

from __future__ import annotations

from django.conf import settings

from aftercare.notifications.models import Notification


def describe(n: Notification) -> str:
    """The kind's lead line with its parameters, translated now (the reader's language)."""
    from aftercare.mail.outbound import KINDS

    kind = KINDS.get(n.kind)
    if kind is None:
        return n.kind
    params = dict(n.params or {})
    params.setdefault("days", settings.AFTERCARE_ARCHIVE_AFTER_DAYS)
    if n.ticket is not None:
        params.setdefault("status", n.ticket.get_status_display())
    for name in (
        "author",
        "note",
        "reason",
        "metric",
        "due",
        "survivor",
        "duplicate",
        "offer",
        "subject",
    ):
        params.setdefault(name, "")
    try:
        return str(kind.lead) % params
    except (KeyError, TypeError, ValueError):
        return str(kind.subject)
