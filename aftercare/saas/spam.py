"""Spam screening for the public quote form, without third-party services.

Four checks, cheapest first: a per-address rate limit (cache counter), a honeypot field
people never see, and a signed timestamp token issued with the form that refuses a
submission made faster than a person types or older than a day, and that can be used
once. A bot gets the same answer as a person and nothing is stored.
"""

from __future__ import annotations

import secrets
import time

from django.conf import settings
from django.core import signing
from django.core.cache import cache

SALT = "aftercare.saas.quote"
MAX_AGE = 24 * 3600
HONEYPOT = "website"


def issue_token() -> str:
    return signing.dumps({"n": secrets.token_urlsafe(12), "t": int(time.time())}, salt=SALT)


def check_token(token: str) -> str:
    """``""`` when the token is good (and now used); else the reason: ``forged``,
    ``expired``, ``too_fast`` or ``replayed``."""
    try:
        data = signing.loads(token or "", salt=SALT, max_age=MAX_AGE)
        issued, nonce = int(data["t"]), str(data["n"])
    except signing.SignatureExpired:
        return "expired"
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return "forged"
    if time.time() - issued < settings.AFTERCARE_QUOTE_MIN_SECONDS:
        return "too_fast"
    if not cache.add(f"quote-token:{nonce}", 1, MAX_AGE):
        return "replayed"
    return ""


def rate_limited(address: str) -> bool:
    """Count one submission from ``address``; True once it is over the limit."""
    key = f"quote-rate:{address}"
    window = settings.AFTERCARE_QUOTE_RATE_WINDOW
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, window)
        count = 1
    return count > settings.AFTERCARE_QUOTE_RATE_LIMIT
