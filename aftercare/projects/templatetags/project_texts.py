from django import template
from django.utils.translation import gettext

from aftercare.projects.default_texts import DEFAULT_TEXTS

register = template.Library()


@register.filter
def reader_text(value: str) -> str:
    """A template text in the reader's language while it is still the default's English
    text; a text a manager edited is theirs and is shown as typed."""
    return gettext(value) if value in DEFAULT_TEXTS else value
