"""A database that is away answers 503, not 500, and the app recovers by itself.

While PostgreSQL restarts or fails over, every query raises ``OperationalError`` (or
``InterfaceError`` on a connection that died under us). A 500 would tell people and
load balancers "the code is broken"; a 503 with ``Retry-After`` tells them "try again
shortly", which is true. Pages get a small page that needs no database (it does not
extend ``base.html``, whose context processors would query again); the API gets its usual
error shape with the code ``database_unavailable``.

Two hooks catch the error wherever it surfaces: the middleware's ``process_exception``
(raised in a view) and ``server_error``, the ``handler500`` (raised in another
middleware, e.g. loading the session). Recovery needs no code: with
``CONN_HEALTH_CHECKS`` Django checks a persistent connection at the start of each request
and replaces a dead one, and a request that failed on a connection closes it at its end.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import defaults

log = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)


def is_database_error(exc: BaseException | None) -> bool:
    return isinstance(exc, DATABASE_ERRORS)


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    log.warning(
        "database unavailable (%s: %s) for %s %s",
        type(exc).__name__,
        str(exc).strip().splitlines()[0] if str(exc).strip() else "",
        request.method,
        request.path,
    )
    retry_after = str(settings.AFTERCARE_DB_RETRY_AFTER)
    message = _("The service is briefly unavailable (database). Please try again shortly.")
    response: HttpResponse
    if _wants_json(request):
        response = JsonResponse(
            {"code": "database_unavailable", "message": message, "fields": {}}, status=503
        )
    else:
        html = render_to_string("503.html", {"message": message, "retry_after": retry_after})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = retry_after
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """Turn a database outage raised in a view into a 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if is_database_error(exc):
            return unavailable_response(request, exc)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: a 503 when the database is the cause, Django's 500 otherwise."""
    exc = sys.exc_info()[1]
    if is_database_error(exc):
        return unavailable_response(request, exc)
    return defaults.server_error(request)
