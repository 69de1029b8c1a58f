"""The request id: taken from the proxy's ``X-Request-ID`` if well-formed, else made here.

First in ``MIDDLEWARE``, so every log line of the request carries it, and the one access
line (``aftercare.request``) with status and duration is written after everything else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from aftercare.monitoring import context

log = logging.getLogger("aftercare.request")

# Probes poll these every few seconds; their access lines would drown the rest.
QUIET_PATHS = frozenset({"/healthz", "/readyz"})


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = context.accept_request_id(request.headers.get(context.HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        ctx = context.Context(
            request_id=request_id, method=request.method or "", path=request.path, request=request
        )
        token = context.activate(ctx)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[context.HEADER] = request_id
            duration_ms = round((time.monotonic() - started) * 1000, 1)
            level = logging.DEBUG if request.path in QUIET_PATHS else logging.INFO
            log.log(
                level,
                "%s %s %s %sms",
                request.method,
                request.path,
                response.status_code,
                duration_ms,
                extra={"status": response.status_code, "duration_ms": duration_ms},
            )
            return response
        finally:
            context.deactivate(token)
