"""Offers confirmed (or declined) by replying to the offer mail.

``mail.ingest`` calls ``offer_reply`` for every message that is not automatic. It acts
only on a reply to one of our offer mails (``In-Reply-To``/``References`` name its
Message-ID), from the contact's address or a coordinator of the organisation, whose first
line is a decision word; anything else falls through to the usual routing.
"""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from aftercare.mail.models import InboundMessage, OutboundMail
from aftercare.saas import services
from aftercare.saas.models import Offer

CONFIRM_WORDS = {
    # en, ro, fr, uk, ru
    "confirm", "confirmed", "accept", "accepted", "yes",
    "confirm", "confirmăm", "confirmam", "accept", "acceptăm", "acceptam", "da",
    "confirme", "confirmé", "confirmée", "accepte", "accepté", "acceptée", "oui",
    "підтверджую", "підтверджуємо", "приймаю", "приймаємо", "погоджую", "так",
    "подтверждаю", "подтверждаем", "принимаю", "принимаем", "согласен", "согласна", "да",
}  # fmt: skip
DECLINE_WORDS = {
    "decline", "declined", "reject", "no",
    "refuz", "refuzăm", "refuzam", "resping", "nu",
    "refuse", "refusé", "décline", "non",
    "відхиляю", "відмовляюсь", "ні",
    "отклоняю", "отказываюсь", "нет",
}  # fmt: skip


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")[:200]


def decision_word(text: str) -> bool | None:
    """True (confirm), False (decline) or None from the reply's first non-empty line."""
    first = _first_line(text)
    words = set(re.sub(r"[^\w\s]", " ", first.lower()).split())
    confirm, decline = bool(words & CONFIRM_WORDS), bool(words & DECLINE_WORDS)
    if confirm == decline:
        return None  # neither, or both ("no, we do not accept"): a person reads it
    return confirm


def offer_reply(row: InboundMessage, parsed, sender) -> bool:
    refs = [f"<{r}>" for r in [*parsed.in_reply_to, *parsed.references]]
    if not refs:
        return False
    keys = OutboundMail.objects.filter(message_id__in=refs, kind="offer").values_list(
        "dedupe_key", flat=True
    )
    ids = [int(m.group(1)) for k in keys if (m := re.match(r"offer(\d+):", k))]
    if not ids:
        return False
    confirm = decision_word(parsed.reply_text)
    if confirm is None:
        return False
    offer = (
        Offer.objects.with_scopes_disabled()
        .select_related("migration")
        .filter(pk__in=ids)
        .order_by("-pk")
        .first()
    )
    if offer is None:
        return False
    migration = offer.migration
    address = (parsed.from_address or "").lower()
    by_contact = address == migration.email.lower()
    by_coordinator = sender is not None and services.is_coordinator(sender, migration)
    if not (by_contact or by_coordinator):
        row.detail = _("A reply to an offer from an address that may not decide on it.")
        return False
    try:
        services.decide_offer(
            offer=offer,
            confirm=confirm,
            via=Offer.Via.EMAIL,
            user=sender if by_coordinator else None,
            email=address,
            note=_("Answered by e-mail: “%(text)s”") % {"text": _first_line(parsed.reply_text)},
        )
    except (services.TransitionError, PermissionDenied) as exc:
        row.detail = str(getattr(exc, "message", exc))
        return False
    row.organisation_id = migration.organisation_id
    row.outcome = InboundMessage.Outcome.APPROVAL
    row.reason = ""
    return True
