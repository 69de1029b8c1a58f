from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from aftercare.accounts.roles import PermSet, shared_permsets


class UserPreferencesMiddleware:
    """Attach ``request.permset`` and switch to the user's own language and time zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with shared_permsets():
            return self._call(request)

    def _call(self, request: HttpRequest) -> HttpResponse:
        request.permset = PermSet(request.user)  # type: ignore[attr-defined]
        user = request.user
        previous = translation.get_language()
        if user.is_authenticated:
            if user.language:
                translation.activate(user.language)
                request.LANGUAGE_CODE = user.language
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        response = self.get_response(request)
        timezone.deactivate()
        # The thread goes back to the language it had: a worker thread (or a test) that
        # serves the next request or runs the next job does not inherit this user's.
        if user.is_authenticated and user.language:
            if previous:
                translation.activate(previous)
            else:
                translation.deactivate()
        return response
