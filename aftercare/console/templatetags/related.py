"""The request page's related requests and merge banner, computed without touching the
request view: the rows come from ``visible_tickets``, so nobody sees a number they may not."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Case, F, Q, When

from aftercare.accounts.roles import PermSet
from aftercare.desk import merge
from aftercare.desk.models import Ticket, TicketLink
from aftercare.desk.querysets import visible_tickets

register = template.Library()


@register.simple_tag
def related_panel(ticket: Ticket, permset: PermSet) -> dict[str, Any]:
    """The linked requests this user may see (one query), and which forms to offer.

    The other side of each link is one ``IN (subquery)``: the earlier ``pk IN (…) OR
    pk IN (…)`` made PostgreSQL read every request (a hashed subplan over a sequential
    scan), 10x slower at 1M requests than at 100k (issue 17).
    """
    others = (
        TicketLink.objects.filter(Q(source_id=ticket.pk) | Q(target_id=ticket.pk))
        .annotate(
            other=Case(When(source_id=ticket.pk, then=F("target_id")), default=F("source_id"))
        )
        .values("other")
    )
    rows = list(
        visible_tickets(permset)
        .filter(pk__in=others)
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
