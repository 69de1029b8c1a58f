from __future__ import annotations

from django import template

from aftercare.saas import labels

register = template.Library()


@register.filter
def event_action(code: str) -> str:
    return labels.action_label(code)


@register.filter
def event_value(value: str) -> str:
    return labels.value_label(value)
