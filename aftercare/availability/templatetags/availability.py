from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def hm(seconds: int | None) -> str:
    """Seconds as hours and minutes, ``2:05`` (rounded to the minute)."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"
