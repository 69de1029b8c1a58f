"""What every console room shares: the staff-only gate, safe redirects, errors onto forms."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _


def agent_required(view):
    """Signed-in staff only; a customer gets 403 (the console is not theirs)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.permset.is_agent:
            raise PermissionDenied(_("The console is for the service desk's staff."))
        return view(request, *args, **kwargs)

    return wrapper


def _prefix() -> str:
    from django.conf import settings

    return settings.AFTERCARE_TICKET_PREFIX


def _safe_next(request: HttpRequest) -> str | None:
    from django.utils.http import url_has_allowed_host_and_scheme

    nxt = request.POST.get("next_url")
    if nxt and url_has_allowed_host_and_scheme(nxt, {request.get_host()}, request.is_secure()):
        return nxt
    return None


def _attach_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
