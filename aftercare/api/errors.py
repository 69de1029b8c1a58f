"""One error shape for every refusal: ``{"code", "message", "fields"}``.

Codes are stable identifiers clients may switch on; messages are for people and follow
the caller's language. Each exception the domain raises maps to exactly one code here,
so a service refusing something reads the same whether it came through a page or the API.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from aftercare.desk.services import ConflictError
from aftercare.desk.workflow import TransitionError

if TYPE_CHECKING:
    from ninja import NinjaAPI

log = logging.getLogger(__name__)


class ErrorOut(Schema):
    code: str
    message: str
    fields: dict[str, list[str]] = {}


class ApiError(Exception):
    """A refusal raised by the API layer itself (auth, rate limit, missing input)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}


def not_found() -> ApiError:
    return ApiError(404, "not_found", _("Not found."))


def validation_error(field: str, message: str) -> ApiError:
    return ApiError(422, "validation_error", message, fields={field: [message]})


# The statuses Django-ninja raises by itself, with the code each stands for.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
}


def _respond(
    api: NinjaAPI,
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
) -> HttpResponse:
    body = {"code": code, "message": str(message), "fields": fields or {}}
    return api.create_response(request, body, status=status)


def _field_name(loc: tuple) -> str:
    """``("body", "payload", "target")`` → ``target``; ``("query", "status")`` → ``status``."""
    parts = [str(p) for p in loc[1:]]
    if loc and loc[0] == "body" and len(parts) > 1:
        parts = parts[1:]  # the body parameter's own name says nothing to the client
    return ".".join(parts) or "__all__"


def install(api: NinjaAPI) -> None:
    def api_error(request, exc: ApiError):
        response = _respond(api, request, exc.status, exc.code, exc.message, exc.fields)
        for name, value in exc.headers.items():
            response[name] = value
        return response

    def http404(request, exc):
        return _respond(api, request, 404, "not_found", _("Not found."))

    def permission_denied(request, exc):
        message = str(exc) or _("You may not do that.")
        return _respond(api, request, 403, "permission_denied", message)

    def django_validation(request, exc: DjangoValidationError):
        if hasattr(exc, "error_dict"):
            fields = {name: list(errors) for name, errors in exc.message_dict.items()}
        else:
            fields = {"__all__": list(exc.messages)}
        message = next(iter(exc.messages), _("The data is not valid."))
        return _respond(api, request, 422, "validation_error", message, fields)

    def ninja_validation(request, exc: NinjaValidationError):
        fields: dict[str, list[str]] = {}
        for error in exc.errors:
            fields.setdefault(_field_name(tuple(error.get("loc", ()))), []).append(
                str(error.get("msg", ""))
            )
        names = ", ".join(sorted(fields))
        message = _("The data is not valid: %(fields)s.") % {"fields": names}
        return _respond(api, request, 422, "validation_error", message, fields)

    def conflict(request, exc: ConflictError):
        return _respond(api, request, 409, "conflict", str(exc))

    def transition(request, exc: TransitionError):
        return _respond(api, request, 409, "transition_not_allowed", str(exc.message))

    def unauthenticated(request, exc):
        response = _respond(
            api,
            request,
            401,
            "unauthenticated",
            _("Sign in, or send an API token as “Authorization: Bearer <token>”."),
        )
        response["WWW-Authenticate"] = 'Bearer realm="aftercare"'
        return response

    def throttled(request, exc):
        return _respond(api, request, 429, "rate_limited", _("Too many requests; slow down."))

    def http_error(request, exc: HttpError):
        code = _HTTP_CODES.get(exc.status_code, "error")
        return _respond(api, request, exc.status_code, code, str(exc))

    def database_unavailable(request, exc: Exception):
        from aftercare.lib.database import unavailable_response

        return unavailable_response(request, exc)

    def server_error(request, exc: Exception):
        log.exception("API request failed: %s %s", request.method, request.path)
        return _respond(api, request, 500, "server_error", _("Something went wrong on our side."))

    api.add_exception_handler(ApiError, api_error)
    api.add_exception_handler(Http404, http404)
    api.add_exception_handler(PermissionDenied, permission_denied)
    api.add_exception_handler(DjangoValidationError, django_validation)
    api.add_exception_handler(NinjaValidationError, ninja_validation)
    api.add_exception_handler(ConflictError, conflict)
    api.add_exception_handler(TransitionError, transition)
    api.add_exception_handler(AuthenticationError, unauthenticated)
    api.add_exception_handler(Throttled, throttled)
    api.add_exception_handler(HttpError, http_error)
    api.add_exception_handler(OperationalError, database_unavailable)
    api.add_exception_handler(InterfaceError, database_unavailable)
    api.add_exception_handler(Exception, server_error)
