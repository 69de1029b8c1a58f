"""Which notifications exist in the app, and which of them a person may choose to get
by mail as well. Their texts (subject and lead line) live in ``mail.outbound.KINDS``."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# Shown in the bell. Receipts, bounce answers and offers are mail only.
IN_APP = frozenset(
    {
        "reply",
        "status",
        "waiting",
        "resolved",
        "released",
        "delivered",
        "rejected",
        "approval",
        "approval_approved",
        "approval_declined",
        "customer_reply",
        "assigned",
        "escalated",
        "reopened",
        "sla_warning",
        "sla_breached",
        "mention",
        "followed",
        "update_reply",
        "update_note",
        "update_status",
        "merged",
        "merge_received",
        "saas_quote",
        "saas_offer_confirmed",
        "saas_offer_declined",
        "saas_statement",
    }
)

# Kinds that follow another kind's choice ("the solution is released" covers both).
CHOICE_OF = {"delivered": "released", "saas_offer_declined": "saas_offer_confirmed"}

# Mail that cannot be turned off: it carries the approve/decline links.
# The final statement is the invoice: it is always mailed.
MAIL_ALWAYS = frozenset(
    {"approval", "received", "mail_rejected", "offer", "saas_quote_received", "saas_statement"}
)

# The choices offered on the notification settings page: (kind, label), per audience.
STAFF_CHOICES = [
    ("assigned", _("A request is assigned to me")),
    ("customer_reply", _("The customer replies on my request")),
    ("reopened", _("The customer reopens my request")),
    ("escalated", _("A request is escalated to me")),
    ("mention", _("Someone mentions me in a note")),
    ("followed", _("Someone adds me as a watcher")),
    ("update_reply", _("A reply on a request I watch")),
    ("update_note", _("An internal note on a request I watch")),
    ("update_status", _("A status change on a request I watch")),
    ("approval_approved", _("A customer approves what I asked")),
    ("approval_declined", _("A customer declines what I asked")),
    ("sla_warning", _("An SLA deadline is approaching")),
    ("sla_breached", _("An SLA target was missed")),
    ("saas_quote", _("A new SaaS migration quote request")),
    ("saas_offer_confirmed", _("A customer answers a SaaS migration offer")),
]
CUSTOMER_CHOICES = [
    ("reply", _("A reply on my request")),
    ("waiting", _("Support needs my input")),
    ("status", _("Other status changes of my request")),
    ("resolved", _("My request is resolved")),
    ("released", _("The solution is released")),
    ("rejected", _("My request is rejected")),
    ("followed", _("Someone copies me on a request")),
    ("update_reply", _("A reply on a request I am copied on")),
    ("update_status", _("A status change on a request I am copied on")),
    ("merged", _("My request is merged into another")),
    ("merge_received", _("Another request is merged into mine")),
    ("saas_offer_confirmed", _("An answer to a SaaS migration offer")),
]
