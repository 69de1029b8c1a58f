"""Who is calling: a personal token (``Authorization: Bearer``) or the browser session.

Both end in ``_sign_in``, which makes the request look exactly like a page request of
that user (``request.user``, ``request.permset``) and counts it against the rate limit.
``as_caller`` then runs the operation inside the same middleware the pages run in, so a
token's user gets the same language, time zone and django-scopes organisation scope as
their browser would.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from aftercare.accounts.middleware import UserPreferencesMiddleware
from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet
from aftercare.api import tokens
from aftercare.api.errors import ApiError
from aftercare.tenancy.middleware import OrganisationScopeMiddleware


def _unauthenticated(message: str) -> ApiError:
    return ApiError(
        401, "unauthenticated", message, headers={"WWW-Authenticate": 'Bearer realm="aftercare"'}
    )


def check_rate(key: str) -> None:
    """Count one request for ``key`` in the current fixed window; 429 past the limit.

    ``cache.add`` + ``cache.incr`` are atomic on Redis and on the embedded shared file
    cache (``aftercare.accounts.filecache``, one store for all processes of a machine), so
    concurrent workers cannot both slip under the limit.
    """
    limit = settings.AFTERCARE_API_RATE_LIMIT
    window = settings.AFTERCARE_API_RATE_WINDOW
    now = time.time()
    slot = int(now // window)
    cache_key = f"api-rate:{key}:{slot}"
    cache.add(cache_key, 0, window + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, window + 5)
        count = 1
    if count > limit:
        retry_after = max(1, math.ceil((slot + 1) * window - now))
        raise ApiError(
            429,
            "rate_limited",
            _("Too many requests; try again in %(seconds)d seconds.") % {"seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


def _sign_in(request: HttpRequest, user: User, rate_key: str) -> User:
    request.user = user
    request.permset = PermSet(user)  # type: ignore[attr-defined]
    check_rate(rate_key)
    return user


class TokenAuth(HttpBearer):
    """``Authorization: Bearer aftc_…``. A bad token is refused outright (401) rather
    than falling back to the session, so a script learns its token is dead."""

    def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get(self.header, "")
        if not header:
            return None
        scheme, _sep, secret = header.partition(" ")
        if scheme.lower() != self.openapi_scheme:
            raise _unauthenticated(_("Only “Authorization: Bearer <token>” is understood."))
        return self.authenticate(request, secret)

    def authenticate(self, request: HttpRequest, token: str) -> User:
        try:
            api_token = tokens.authenticate(token)
        except tokens.TokenRefused as exc:
            raise _unauthenticated(exc.message) from None
        request.api_token = api_token  # type: ignore[attr-defined]
        return _sign_in(request, api_token.user, f"token:{api_token.pk}")


class SessionAuth(APIKeyCookie):
    """The signed-in browser. Unsafe methods need Django's CSRF token, as forms do."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None  # anonymous: 401, not a CSRF complaint
        if check_csrf(request):
            raise ApiError(
                403,
                "csrf_failed",
                _("The CSRF check failed: send the X-CSRFToken header with the cookie's value."),
            )
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = request.user
        if not user.is_authenticated or not user.is_active:
            return None
        return _sign_in(request, user, f"user:{user.pk}")  # type: ignore[arg-type]


def as_caller(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run an operation as its caller, through the middleware a page request passes.

    The middleware ran before ninja authenticated a token, so for a token it activated
    the anonymous scope (no organisation at all); running them again here, now that
    ``request.user`` is the token's owner, gives that user their own scope, language and
    time zone from the one place that decides them.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        def call(req: HttpRequest) -> Any:
            return view(req, *args, **kwargs)

        chain = UserPreferencesMiddleware(OrganisationScopeMiddleware(call))
        return chain(request)

    return wrapper
