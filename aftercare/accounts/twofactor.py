"""Two-factor authentication: TOTP codes (RFC 6238) with one-time recovery codes.

Sign-in is two steps. After the password, a user with an active device is *not* signed
in: the session only remembers who is half-way (``PENDING_KEY``), and the code page
finishes with ``login()``. The admin's ``/admin/login/`` leads to the same page (see
``AccountsConfig.ready``). ``TwoFactorMiddleware`` is the safety net for every other way
into a session (a session made before the device was enrolled, ``force_login``):
a session of a user with 2FA that did not pass the code step is signed out and sent to
the code page. It also sends people whose role requires 2FA
(``AFTERCARE_2FA_REQUIRED_FOR``) to enrolment until they have it. API bearer tokens do
not use sessions and are unaffected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import time
from collections.abc import Callable

import pyotp
import segno
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, logout
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.accounts.models import SecurityEvent, TwoFactorDevice, User

STEP_SECONDS = 30
DIGITS = 6
RECOVERY_CODES = 10
# Session keys: the half-signed-in user, and "this session passed the 2FA check".
PENDING_KEY = "_2fa_pending"
STATE_KEY = "_2fa_state"


# -- codes ---------------------------------------------------------------------------


def new_secret() -> str:
    return pyotp.random_base32(length=32)


def provisioning_uri(device: TwoFactorDevice) -> str:
    user = device.user
    return pyotp.TOTP(device.secret).provisioning_uri(
        name=user.email or user.username, issuer_name=settings.AFTERCARE_2FA_ISSUER
    )


def qr_svg_data_uri(device: TwoFactorDevice) -> str:
    """The provisioning URI as a QR code, an SVG ``data:`` URI for an ``<img>``."""
    buffer = io.BytesIO()
    segno.make(provisioning_uri(device), error="m").save(
        buffer, kind="svg", scale=5, border=2, xmldecl=False
    )
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def grouped_secret(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _clean(code: str) -> str:
    return "".join(ch for ch in (code or "") if ch.isalnum()).upper()


def _hash(code: str) -> str:
    return hashlib.sha256(_clean(code).encode()).hexdigest()


def _matching_step(device: TwoFactorDevice, code: str, now: float | None = None) -> int | None:
    """The time step (current, one before or one after) whose code this is, if any."""
    code = _clean(code)
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(device.secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _use_totp(device: TwoFactorDevice, code: str, now: float | None = None) -> bool:
    step = _matching_step(device, code, now)
    if step is None:
        return False
    # Atomic compare-and-set: a code (or an older one) already accepted is refused, also
    # when two requests race with the same code.
    used = TwoFactorDevice.objects.filter(pk=device.pk, last_used_step__lt=step).update(
        last_used_step=step, last_used_at=timezone.now()
    )
    if used:
        device.last_used_step = step
    return bool(used)


def _use_recovery(device: TwoFactorDevice, code: str) -> bool:
    digest = _hash(code)
    if len(_clean(code)) < 10:
        return False
    with transaction.atomic():
        locked = TwoFactorDevice.objects.select_for_update().get(pk=device.pk)
        if digest not in locked.recovery_hashes:
            return False
        locked.recovery_hashes = [h for h in locked.recovery_hashes if h != digest]
        locked.last_used_at = timezone.now()
        locked.save(update_fields=["recovery_hashes", "last_used_at"])
    device.recovery_hashes = locked.recovery_hashes
    return True


def check(device: TwoFactorDevice, code: str, *, allow_recovery: bool = True) -> str | None:
    """Use ``code`` on ``device``: ``"totp"``, ``"recovery"`` or ``None`` if refused."""
    if _use_totp(device, code):
        return "totp"
    if allow_recovery and _use_recovery(device, code):
        return "recovery"
    return None


def new_recovery_codes(device: TwoFactorDevice) -> list[str]:
    """Replace the device's recovery codes; the plain codes are returned once, only hashes
    are kept."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = [
        "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODES)
    ]
    device.recovery_hashes = [_hash(c) for c in codes]
    device.save(update_fields=["recovery_hashes"])
    return codes


# -- enrolment -------------------------------------------------------------------------


def active_device(user: User) -> TwoFactorDevice | None:
    return TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False).first()


def start_enrolment(user: User) -> TwoFactorDevice:
    """A fresh, not yet active device (replacing an unconfirmed one)."""
    with transaction.atomic():
        TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=True).delete()
        return TwoFactorDevice.objects.create(user=user, secret=new_secret())


def confirm_enrolment(device: TwoFactorDevice, code: str) -> list[str] | None:
    """Activate the device if ``code`` is right; returns the new recovery codes."""
    if device.is_active or not _use_totp(device, code):
        return None
    device.confirmed_at = timezone.now()
    device.save(update_fields=["confirmed_at"])
    SecurityEvent.objects.create(
        action="accounts.2fa.enabled", subject=device.user, actor=device.user
    )
    return new_recovery_codes(device)


def disable(user: User, *, actor: User | None, reason: str = "") -> bool:
    deleted, _ = TwoFactorDevice.objects.filter(user=user).delete()
    if deleted:
        action = "accounts.2fa.disabled" if actor == user else "accounts.2fa.reset"
        SecurityEvent.objects.create(action=action, subject=user, actor=actor, reason=reason)
    return bool(deleted)


def required_roles() -> set[str]:
    return {r.strip().lower() for r in settings.AFTERCARE_2FA_REQUIRED_FOR if r.strip()}


def is_required(request: HttpRequest) -> bool:
    """Whether the signed-in user's roles make 2FA compulsory."""
    wanted = required_roles()
    if not wanted:
        return False
    permset = request.permset  # type: ignore[attr-defined]
    roles = {str(r) for r in permset.staff_roles} | {str(r) for r in permset.memberships.values()}
    return bool(roles & wanted)


# -- throttling (as for passwords: per account and per client address) ----------------


def _throttle_keys(user: User, address: str) -> list[str]:
    return [f"2fa-fail:account:{user.pk}", f"2fa-fail:addr:{address}"]


def is_locked(user: User, address: str) -> bool:
    limit = settings.AFTERCARE_LOGIN_MAX_FAILURES
    user_key, addr_key = _throttle_keys(user, address)
    return cache.get(user_key, 0) >= limit or cache.get(addr_key, 0) >= limit * 4


def record_failure(user: User, address: str) -> None:
    for key in _throttle_keys(user, address):
        cache.add(key, 0, settings.AFTERCARE_LOGIN_LOCKOUT_SECONDS)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, settings.AFTERCARE_LOGIN_LOCKOUT_SECONDS)


def reset_failures(user: User, address: str) -> None:
    cache.delete(_throttle_keys(user, address)[0])


# -- the half-signed-in session ------------------------------------------------------


def start_pending(request: HttpRequest, user: User, *, backend: str, next_url: str) -> None:
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "backend": backend,
        "at": int(time.time()),
        "next": next_url,
    }


def pending(request: HttpRequest) -> tuple[User, dict] | None:
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return None
    if time.time() - data.get("at", 0) > settings.AFTERCARE_2FA_PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    user = User.objects.filter(pk=data.get("user"), is_active=True).first()
    if user is None:
        request.session.pop(PENDING_KEY, None)
        return None
    return user, data


def mark_verified(request: HttpRequest, user: User) -> None:
    request.session[STATE_KEY] = f"ok:{user.pk}"


@receiver(user_logged_in, dispatch_uid="aftercare-2fa-login")
def _forget_state_on_login(sender, request, user, **kwargs) -> None:
    """Any new sign-in is checked afresh (the code step sets the mark after this)."""
    if request is not None and hasattr(request, "session"):
        request.session.pop(STATE_KEY, None)


# -- middleware ------------------------------------------------------------------------


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


class TwoFactorMiddleware:
    """No page or session-authenticated API call before the second step, and none but
    enrolment for a role that requires 2FA. A checked session costs no query."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not user.is_authenticated or request.session.get(STATE_KEY) == f"ok:{user.pk}":
            return self.get_response(request)
        if active_device(user) is not None:
            # Signed in by password alone (the admin's sign-in, a session older than the
            # device): out, and on to the code step.
            backend = (
                request.session.get(BACKEND_SESSION_KEY) or settings.AUTHENTICATION_BACKENDS[0]
            )
            nxt = request.get_full_path() if request.method == "GET" else reverse("home")
            logout(request)
            start_pending(request, user, backend=backend, next_url=nxt)
            return self._refuse(request, reverse("accounts:2fa-verify"), "two_factor_pending")
        if not is_required(request):
            mark_verified(request, user)
            return self.get_response(request)
        if request.path in self._exempt():
            return self.get_response(request)
        return self._refuse(request, reverse("accounts:2fa"), "two_factor_required")

    @staticmethod
    def _exempt() -> set[str]:
        return {
            reverse("accounts:2fa"),
            reverse("accounts:logout"),
            reverse("accounts:language"),
        }

    @staticmethod
    def _refuse(request: HttpRequest, url: str, code: str) -> HttpResponse:
        if _is_api(request) and not request.path.startswith(reverse("api:docs")):
            message = (
                _("Your role requires two-factor authentication: set it up in your profile.")
                if code == "two_factor_required"
                else _("Enter your two-factor code to finish signing in.")
            )
            return JsonResponse({"code": code, "message": message, "fields": {}}, status=403)
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return redirect(url)
