"""Login throttling: count failures per account and per client address in the cache."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _account_key(username: str) -> str:
    """The account the name or e-mail signs in to (as the backend resolves it), so the
    same account cannot be tried five times by name and five more by address."""
    from django.contrib.auth import get_user_model

    typed = username.strip()
    model = get_user_model()
    user = model.objects.filter(username__iexact=typed).only("pk").first()
    if user is None and "@" in typed:
        matches = list(model.objects.filter(email__iexact=typed).only("pk")[:2])
        user = matches[0] if len(matches) == 1 else None
    if user is not None:
        return f"login-fail:account:{user.pk}"
    digest = hashlib.sha256(typed.lower().encode()).hexdigest()[:32]
    return f"login-fail:name:{digest}"


def _keys(username: str, address: str) -> list[str]:
    return [_account_key(username), f"login-fail:addr:{address}"]


def is_locked(username: str, address: str) -> bool:
    limit = settings.AFTERCARE_LOGIN_MAX_FAILURES
    # The per-address limit is wider so that one office behind NAT is not locked out.
    user_key, addr_key = _keys(username, address)
    return (cache.get(user_key, 0) >= limit) or (cache.get(addr_key, 0) >= limit * 4)


def record_failure(username: str, address: str) -> None:
    for key in _keys(username, address):
        cache.add(key, 0, settings.AFTERCARE_LOGIN_LOCKOUT_SECONDS)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, settings.AFTERCARE_LOGIN_LOCKOUT_SECONDS)


def reset(username: str, address: str) -> None:
    cache.delete(_keys(username, address)[0])
