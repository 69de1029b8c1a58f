from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest


class EmailOrUsernameBackend(ModelBackend):
    """Sign in with the user name or the e-mail address (case-insensitive)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if not username or password is None:
            return None
        model = get_user_model()
        user = model.objects.filter(username__iexact=username).first()
        if user is None and "@" in username:
            # Active accounts have unique addresses; a deactivated one cannot sign in.
            matches = list(model.objects.filter(email__iexact=username, is_active=True)[:2])
            user = matches[0] if len(matches) == 1 else None
        if user is None:
            model().set_password(password)  # same cost as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
