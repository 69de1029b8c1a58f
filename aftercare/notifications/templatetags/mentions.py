"""``{{ text|mentions }}``: the text, escaped, with ``@username`` marked as a mention."""

from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from aftercare.notifications.services import MENTION

register = template.Library()


@register.filter
def mentions(text: str) -> str:
    escaped = escape(text or "")  # escaping leaves "@", letters, digits, ".", "+", "-" alone

    def mark(match) -> str:
        name = match.group(1).rstrip(".-")  # "@olga." ends a sentence
        rest = match.group(1)[len(name) :]
        return f'<span class="mention">@{name}</span>{rest}'

    return mark_safe(MENTION.sub(mark, escaped))  # noqa: S308 - escaped text, a fixed tag
