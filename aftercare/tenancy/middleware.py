from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django_scopes import scope


class OrganisationScopeMiddleware:
    """Activate the organisation scope of the signed-in user for the whole request.

    Agents without restrictions get ``None`` (every organisation); customers and
    restricted agents get the list of their organisations; anonymous visitors get an
    empty list, so a tenant query returns nothing rather than everything.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        permset = request.permset  # type: ignore[attr-defined]
        value = permset.organisation_scope if permset.is_authenticated else []
        with scope(organisation=value):
            return self.get_response(request)
