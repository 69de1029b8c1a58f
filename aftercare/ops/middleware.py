"""Refuse every write request while read-only maintenance mode is on.

Safe methods (GET, HEAD, OPTIONS) always pass: reading, searching and downloading keep
working. Signing in and out and switching the language write only the session (and the
user's last login), so they are exempt, as is the admin page that switches the flag off.
Pages get a friendly 503 page with the banner; the API gets its usual error shape,
``{"code": "maintenance", "message": ...}``, with 503 and ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse

from aftercare.ops import maintenance

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

# Views that may write while maintenance mode is on (namespaced URL names).
EXEMPT_VIEWS = frozenset(
    {
        "accounts:login",
        "accounts:logout",
        "accounts:language",
        "admin:login",
        "admin:logout",
        "admin:ops_maintenanceflag_change",
        "admin:ops_maintenanceflag_changelist",
    }
)
# Further sign-in steps (e.g. a second factor) in the accounts app start with these.
EXEMPT_PREFIXES = ("accounts:login", "accounts:two_factor", "accounts:2fa", "accounts:otp")


def is_exempt(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return False
    name = match.view_name
    return name in EXEMPT_VIEWS or name.startswith(EXEMPT_PREFIXES)


def refusal(request: HttpRequest, message: str | None = None) -> HttpResponse:
    current = maintenance.state()
    note = current.message if message is None else message
    retry = str(settings.AFTERCARE_MAINTENANCE_RETRY_AFTER)
    if request.path_info.startswith("/api/"):
        text = str(maintenance.MaintenanceError(note))
        response: HttpResponse = JsonResponse(
            {"code": "maintenance", "message": text, "fields": {}}, status=503
        )
    else:
        response = TemplateResponse(
            request, "ops/maintenance.html", {"note": note}, status=503
        ).render()
    response["Retry-After"] = retry
    return response


class MaintenanceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if request.method in SAFE_METHODS or is_exempt(request):
            return None
        if maintenance.is_on():
            return refusal(request)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception):
        """A service refused a write (the flag went on mid-request, or a GET that writes)."""
        if isinstance(exception, maintenance.MaintenanceError):
            return refusal(request, exception.note)
        return None
