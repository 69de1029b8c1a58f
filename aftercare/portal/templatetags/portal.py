"""Template helpers for the portal's frame: the approvals badge."""

from __future__ import annotations

from django import template
from django.http import HttpRequest

from aftercare.portal import approvals_page

register = template.Library()


@register.simple_tag(takes_context=True)
def pending_approvals(context: template.Context) -> int:
    """How many approvals await this coordinator: one count query per page, kept."""
    request: HttpRequest | None = context.get("request")
    if request is None:
        return 0
    if not hasattr(request, "_pending_approvals"):
        request._pending_approvals = approvals_page.pending_count(request.permset)  # type: ignore[attr-defined]
    return request._pending_approvals  # type: ignore[attr-defined]
