"""Security headers on every response, and a Content Security Policy on every page.

The policy allows no inline script or style: behaviour lives in static files
(``aftercare/static/aftercare/app.js``), htmx is told not to inject its indicator
``<style>`` (``htmx-config`` in ``templates/base.html``). Paths listed in
``AFTERCARE_CSP_RELAXED_PATHS`` get ``AFTERCARE_CSP_RELAXED`` instead (none need it
today; the API documentation loads its script from a static file).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

DEFAULT_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


def policy_for(path: str) -> str:
    for prefix in settings.AFTERCARE_CSP_RELAXED_PATHS:
        if path.startswith(prefix):
            return settings.AFTERCARE_CSP_RELAXED
    return settings.AFTERCARE_CSP


class SecurityHeadersMiddleware:
    """CSP on HTML answers; framing, referrer, sniffing and opener rules on all."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            header = (
                "Content-Security-Policy-Report-Only"
                if settings.AFTERCARE_CSP_REPORT_ONLY
                else "Content-Security-Policy"
            )
            if "Content-Security-Policy" not in response:
                response[header] = policy_for(request.path)
        response.setdefault("X-Frame-Options", "DENY")
        response.setdefault("Referrer-Policy", "same-origin")
        response.setdefault("X-Content-Type-Options", "nosniff")
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response
