"""The portal request page's "Copied" panel: colleagues told like the reporter."""

from __future__ import annotations

from django import template

from aftercare.accounts.models import User
from aftercare.accounts.roles import Role
from aftercare.notifications.models import Follower

register = template.Library()


@register.inclusion_tag("portal/_people.html", takes_context=True)
def portal_people_panel(context, ticket):
    request = context["request"]
    permset = request.permset
    ccs = [
        f.user
        for f in Follower.objects.filter(ticket=ticket, role=Follower.Role.CC)
        .select_related("user")
        .order_by("created_at", "pk")
    ]
    may_share = request.user.pk == ticket.reporter_id or (
        ticket.organisation_id in permset.coordinator_of
    )
    choices = []
    if may_share and ticket.is_open:
        taken = {u.pk for u in ccs} | {ticket.reporter_id}
        choices = [
            u
            for u in User.objects.filter(
                is_active=True,
                memberships__organisation_id=ticket.organisation_id,
                memberships__role__in=(Role.CUSTOMER, Role.COORDINATOR),
            )
            .distinct()
            .order_by("first_name", "last_name", "username")[:500]
            if u.pk not in taken
        ]
    return {
        "ticket": ticket,
        "ccs": ccs,
        "may_share": may_share,
        "choices": choices,
        "csrf_token": context.get("csrf_token"),
        "user": request.user,
    }
