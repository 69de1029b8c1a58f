"""The request page's related requests and merge banner, computed without touching the
request view: the rows come from ``visible_tickets``, so nobody sees a number they may not."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Q

from aftercare.accounts.roles import PermSet
from aftercare.desk import merge
from aftercare.desk.models import Ticket, TicketLink
from aftercare.desk.querysets import visible_tickets

register = template.Library()


@register.simple_tag
def related_panel(ticket: Ticket, permset: PermSet) -> dict[str, Any]:
    """The linked requests this user may see (one query), and which forms to offer."""
    linked_out = TicketLink.objects.filter(source_id=ticket.pk).values("target_id")
    linked_in = TicketLink.objects.filter(target_id=ticket.pk).values("source_id")
    rows = list(
        visible_tickets(permset)
        .filter(Q(pk__in=linked_out) | Q(pk__in=linked_in))
        .only("pk", "number", "subject", "status", "organisation_id")
        .order_by("number")
    )
    may_link = permset.is_agent and permset.may_view_ticket(ticket)
    may_merge = merge.may_merge(permset, ticket)
    return {
        "rows": rows,
        "may_link": may_link and ticket.merged_into_id is None,
        "may_unlink": may_link,
        "may_merge": may_merge and not merge.merge_refusal(ticket),
        "merge_refusal": merge.merge_refusal(ticket) if may_merge else "",
    }


@register.simple_tag
def merge_banner(ticket: Ticket, permset: PermSet) -> dict[str, Any]:
    """Where this request went (if merged), and which requests were merged into it."""
    survivor = merge.visible_survivor(permset, ticket) if ticket.merged_into_id else None
    duplicates = list(
        visible_tickets(permset)
        .filter(merged_into_id=ticket.pk)
        .only("pk", "number", "subject", "organisation_id")
        .order_by("number")
    )
    return {
        "merged": ticket.merged_into_id is not None,
        "survivor": survivor,
        "duplicates": duplicates,
    }
