"""The request page's "People" panel: watchers, CC and who can still be added."""

from __future__ import annotations

from django import template

from aftercare.accounts.querysets import agents_seeing
from aftercare.accounts.roles import Role
from aftercare.notifications.models import Follower

register = template.Library()


@register.inclusion_tag("console/_people_panel.html", takes_context=True)
def people_panel(context, ticket):
    request = context["request"]
    rows = list(
        Follower.objects.filter(ticket=ticket).select_related("user").order_by("created_at", "pk")
    )
    watchers = [f.user for f in rows if f.role == Follower.Role.WATCHER]
    ccs = [f.user for f in rows if f.role == Follower.Role.CC]
    taken = {f.user_id for f in rows} | {ticket.reporter_id}
    from aftercare.accounts.models import User

    staff = [u for u in agents_seeing(ticket.organisation_id) if u.pk not in taken]
    contacts = [
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
        "watchers": watchers,
        "ccs": ccs,
        "watching": any(u.pk == request.user.pk for u in watchers),
        "staff_choices": staff,
        "contact_choices": contacts,
        "csrf_token": context.get("csrf_token"),
        "user": request.user,
    }
