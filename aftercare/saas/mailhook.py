"""Offers confirmed (or declined) by replying to the offer mail.

``mail.ingest`` calls ``offer_reply`` for every message that is not automatic. It acts
only on a reply to one of our offer mails (``In-Reply-To``/``References`` name its
Message-ID), from the contact's address or a coordinator of the organisation. The reply
is read by ``lib.replies.decide`` (first meaningful lines, negation, five languages): a
clear yes confirms, a clear no declines, anything unsure decides nothing and waits in
triage (reason ``unclear_decision``) with a note on the migration, for an agent to read.
Replies from others fall through to the usual routing.
"""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from aftercare.lib import replies
from aftercare.mail.models import InboundMessage, OutboundMail
from aftercare.saas import services
from aftercare.saas.models import Offer


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")[:200]


def _answer(text: str) -> str:
    """What the person wrote above the quote, for notes (at most 300 characters)."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    lines = [ln for ln in lines[: replies.MAX_LINES + 1] if not ln.startswith(">")]
    return " ".join(lines)[:300] or _first_line(text)


def decision_word(text: str) -> bool | None:
    """True (confirm), False (decline) or None (unsure) — ``lib.replies.decide``."""
    answer = replies.decide(text)
    return None if answer is None else answer == replies.YES


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
    confirm = decision_word(parsed.reply_text)
    if confirm is None:
        # Neither a clear yes nor a clear no ("yes, but later", a question, a long
        # text): nothing is decided; an agent reads it in triage and on the migration.
        return _unsure(row, parsed, offer)
    try:
        services.decide_offer(
            offer=offer,
            confirm=confirm,
            via=Offer.Via.EMAIL,
            user=sender if by_coordinator else None,
            email=address,
            note=_("Answered by e-mail: “%(text)s”") % {"text": _answer(parsed.reply_text)},
        )
    except (services.TransitionError, PermissionDenied) as exc:
        row.detail = str(getattr(exc, "message", exc))
        return False
    row.organisation_id = migration.organisation_id
    row.outcome = InboundMessage.Outcome.APPROVAL
    row.reason = ""
    return True


def _unsure(row: InboundMessage, parsed, offer: Offer) -> bool:
    migration = offer.migration
    if offer.status != Offer.Status.SENT:
        return False  # nothing to decide any more: the usual routing
    services.note_unclear_reply(
        offer=offer, email=parsed.from_address or "", text=_answer(parsed.reply_text)
    )
    row.organisation_id = migration.organisation_id
    row.outcome = InboundMessage.Outcome.TRIAGE
    row.reason = replies.UNSURE_REASON
    row.detail = (
        row.detail
        + "\n"
        + _("A reply to offer %(offer)s that is neither a clear yes nor a clear no.")
        % {"offer": offer.number}
    ).strip()[:4000]
    return True
