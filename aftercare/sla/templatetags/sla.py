from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
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


@register.simple_tag
def sla_badge(ticket, now=None) -> str:
    """A coloured badge: time left to the nearest SLA deadline, overdue, paused or met.

    Made in Python, not by an inclusion template: a queue page shows fifty of them."""
    now = now or timezone.now()
    state = ticket.sla_state
    due = ticket.sla_due_at
    if not state:
        return ""
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
    title = (
        format_html(' title="{}"', date_format(timezone.localtime(due), "SHORT_DATETIME_FORMAT"))
        if due
        else ""
    )
    return format_html('<span class="badge sla-{}"{}>{}</span>', state, title, text)
