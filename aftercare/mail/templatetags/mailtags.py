from django import template

register = template.Library()


@register.filter
def bounce_reason(bounced: dict | None, address: str) -> str:
    """The bounce reason recorded for ``address`` (case-insensitive), or ""."""
    if not bounced or not address:
        return ""
    return bounced.get(address.lower(), "")
