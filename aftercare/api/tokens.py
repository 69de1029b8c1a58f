"""Issue, check and revoke personal API tokens.

A token is ``aftc_`` followed by 43 URL-safe random characters (256 bits), so guessing
one is hopeless and a plain SHA-256 of it is a safe thing to store and look up by: the
database never holds anything that signs in. The fixed prefix lets secret scanners
recognise a leaked token.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.api.models import ApiToken

log = logging.getLogger(__name__)

SCHEME = "aftc_"
PREFIX_LENGTH = len(SCHEME) + 8


class TokenRefused(Exception):
    """The bearer token does not sign anybody in; ``message`` says why, for the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(*, user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token for ``user``; return it and its secret (the only time it exists)."""
    secret = SCHEME + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name.strip()[:100] or _("API token"),
        prefix=secret[:PREFIX_LENGTH],
        secret_hash=hash_secret(secret),
        expires_at=expires_at,
    )
    log.info("API token %s issued to user %s", token.pk, user.pk)
    return token, secret


def revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token for good (idempotent: the first revocation time is kept)."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        log.info("API token %s revoked", token.pk)
    return token


def authenticate(secret: str, *, now: datetime | None = None) -> ApiToken:
    """The active token with this secret, its user loaded; else ``TokenRefused``.

    ``last_used_at`` is written at most once per ``AFTERCARE_API_TOKEN_TOUCH_SECONDS``
    with a conditional UPDATE, so a busy script does not write a row per request (nor
    take the database's write lock: the row just read says whether it is due).
    """
    now = now or timezone.now()
    secret = secret.strip()
    if not secret.startswith(SCHEME):
        raise TokenRefused(_("This is not an Aftercare API token."))
    token = ApiToken.objects.select_related("user").filter(secret_hash=hash_secret(secret)).first()
    if token is None:
        raise TokenRefused(_("Unknown API token."))
    if token.revoked_at is not None:
        raise TokenRefused(_("This API token was revoked."))
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRefused(_("This API token has expired."))
    if not token.user.is_active:
        raise TokenRefused(_("The account of this API token is disabled."))
    stale = now - timedelta(seconds=settings.AFTERCARE_API_TOKEN_TOUCH_SECONDS)
    if token.last_used_at is not None and token.last_used_at >= stale:
        return token
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
    ).update(last_used_at=now)
    return token
