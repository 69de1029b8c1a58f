"""Throttling in the shared cache: failures and requests per account and per address.

Sign-in failures count per account (as the backend resolves the typed name or address)
and per client address (``aftercare.accounts.network.client_address``). Every other
password check (changing the password or the e-mail address) counts on the *same*
per-account counter, so a stolen session cannot guess more passwords than a sign-in
form. Password-reset and e-mail-change requests have their own counters (``hit``).

The cache must be shared by all processes (Redis, or the embedded
``aftercare.accounts.filecache.SharedFileCache``), or each process counts alone.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

# The per-address limits are wider so that one office behind NAT is not locked out.
ADDRESS_FACTOR = 4


def bump(key: str, window: int) -> int:
    """Count one for ``key`` (the count expires ``window`` seconds after the first)."""
    cache.add(key, 0, window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        return 1


def _typed_key(typed: str) -> str:
    return hashlib.sha256(typed.strip().lower().encode()).hexdigest()[:32]


def _account_key(username: str) -> str:
    """The account the name or e-mail signs in to (as the backend resolves it), so the
    same account cannot be tried five times by name and five more by address."""
    from django.contrib.auth import get_user_model

    typed = username.strip()
    model = get_user_model()
    user = model.objects.filter(username__iexact=typed).only("pk").first()
    if user is None and "@" in typed:
        matches = list(model.objects.filter(email__iexact=typed, is_active=True).only("pk")[:2])
        user = matches[0] if len(matches) == 1 else None
    if user is not None:
        return f"login-fail:account:{user.pk}"
    return f"login-fail:name:{_typed_key(typed)}"


def _keys(username: str, address: str) -> list[str]:
    return [_account_key(username), f"login-fail:addr:{address}"]


def _user_keys(user, address: str) -> list[str]:
    return [f"login-fail:account:{user.pk}", f"login-fail:addr:{address}"]


def _locked(keys: list[str]) -> bool:
    limit = settings.AFTERCARE_LOGIN_MAX_FAILURES
    user_key, addr_key = keys
    return cache.get(user_key, 0) >= limit or cache.get(addr_key, 0) >= limit * ADDRESS_FACTOR


def _record(keys: list[str]) -> None:
    for key in keys:
        bump(key, settings.AFTERCARE_LOGIN_LOCKOUT_SECONDS)


# -- sign-in (by typed name) ----------------------------------------------------------


def is_locked(username: str, address: str) -> bool:
    return _locked(_keys(username, address))


def record_failure(username: str, address: str) -> None:
    _record(_keys(username, address))


def reset(username: str, address: str) -> None:
    cache.delete(_keys(username, address)[0])


# -- a signed-in user re-entering their password -------------------------------------


def user_is_locked(user, address: str) -> bool:
    return _locked(_user_keys(user, address))


def record_user_failure(user, address: str) -> None:
    _record(_user_keys(user, address))


def reset_user(user, address: str) -> None:
    cache.delete(_user_keys(user, address)[0])


# -- requests that send mail (password reset, e-mail change) -------------------------


def request_allowed(scope: str, subject: str, address: str) -> bool:
    """Count one request of ``scope`` for ``subject`` (an account id or a typed
    address, hashed) and the client address; False once either is over its limit.

    Counted whether or not an account exists, so the answer reveals nothing."""
    window = settings.AFTERCARE_LOGIN_LOCKOUT_SECONDS
    limit = settings.AFTERCARE_LOGIN_MAX_FAILURES
    per_subject = bump(f"{scope}:subject:{_typed_key(subject)}", window)
    per_address = bump(f"{scope}:addr:{address}", window)
    return per_subject <= limit and per_address <= limit * ADDRESS_FACTOR
