"""What people read for a migration event's action code (``saas.lead.created``).

Events keep the dotted code (the audit trail and webhooks match on it); pages show this
label instead, followed by the old → new state or the checklist step, so a short label
that the catalogues already translate ("Scheduled") is preferred to a new sentence. A code added later without a label here still reads as words
("saas.offer.reply_unclear" → "Offer reply unclear") instead of a raw code.
"""

from __future__ import annotations

from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from aftercare.saas.models import State, Step

ACTION_LABELS = {
    "saas.lead.created": _("Quote request"),
    "saas.lead.linked": _("Linked to the organisation"),
    "saas.offer.drafted": _("Offer drafted"),
    "saas.offer.sent": _("Offer sent"),
    "saas.offer.superseded": _("Offer superseded by a new revision"),
    "saas.offer.confirmed": _("Confirmed"),
    "saas.offer.declined": _("Declined"),
    "saas.offer.decision_undone": _("Answer to the offer taken back"),
    "saas.offer.reply_unclear": _("Reply to the offer needs reading"),
    "saas.migration.scheduled": _("Scheduled"),
    "saas.migration.rescheduled": _("Migration rescheduled"),
    "saas.migration.started": _("In progress"),
    "saas.migration.start_undone": _("Start of the migration taken back"),
    "saas.migration.handed_over": _("Site handed over"),
    "saas.migration.handover_undone": _("Handover taken back"),
    "saas.migration.accepted": _("Accepted by the customer"),
    "saas.checklist.ticked": _("Migration checklist"),
    "saas.checklist.unticked": _("Checklist step taken back"),
    "saas.extra.added": _("Extra work added"),
    "saas.extra.removed": _("Extra work removed"),
    "saas.statement.issued": _("Final statement issued"),
    "saas.contact.invited": _("Portal account created, invitation sent"),
    "saas.contact.member": _("Contact made a coordinator of the organisation"),
    "saas.contact.not_invited": _("No portal account for a staff address"),
    "saas.environment.created": _("Production environment created"),
    "saas.environment.updated": _("Production environment updated"),
}

_VALUE_LABELS = {**dict(State.choices), **dict(Step.choices)}


def action_label(code: str) -> str:
    label = ACTION_LABELS.get(code)
    if label is not None:
        return str(label)
    words = code.removeprefix("saas.").replace(".", " ").replace("_", " ").strip()
    return capfirst(words) or code


def value_label(value: str) -> str:
    """A state or checklist step code as its label; anything else unchanged."""
    label = _VALUE_LABELS.get(value)
    return str(label) if label is not None else value
