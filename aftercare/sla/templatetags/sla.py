from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

register = template.Library()


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)sd %(h)sh") % {"d": days, "h": hours}
    if hours:
        return _("%(h)sh %(m)sm") % {"h": hours, "m": mins}
    return _("%(m)sm") % {"m": mins}


@register.inclusion_tag("sla/_badge.html")
def sla_badge(ticket, now=None):
    """A coloured badge: time left to the nearest SLA deadline, overdue, paused or met."""
    now = now or timezone.now()
    state = ticket.sla_state
    due = ticket.sla_due_at
    if not state:
        return {"show": False}
    if due and due <= now:
        state = "breached"
        text = _("overdue %(span)s") % {"span": _span(now - due)}
    elif due:
        text = _("%(span)s left") % {"span": _span(due - now)}
    elif state == "paused":
        text = _("SLA paused")
    elif state == "met":
        text = _("SLA met")
    else:
        text = _("SLA missed")
    return {"show": True, "state": state, "text": text, "due": due}
