"""Changing one's e-mail address: password, then a link sent to the new address.

The link carries a signed, time-limited token (``django.core.signing``, own salt) with
the account, the new address, the *current* address and a fingerprint of the password
hash. It works only for the same signed-in user, and only while the account's address
and password are what they were when it was made: once used (the address changed) or
after a password change it is dead, so every link works at most once. The old address
is told about the change.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.crypto import constant_time_compare, salted_hmac

from aftercare.accounts.models import SecurityEvent, User, email_taken

SALT = "aftercare.accounts.email-change"


class LinkRefused(Exception):
    """The link is forged, expired, used, for someone else, or the address is taken."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _fingerprint(user: User, new_email: str) -> str:
    state = f"{user.pk}|{user.email.lower()}|{new_email.lower()}|{user.password}"
    return salted_hmac(SALT, state, algorithm="sha256").hexdigest()[:32]


def make_token(user: User, new_email: str) -> str:
    return signing.dumps(
        {"u": user.pk, "e": new_email, "f": _fingerprint(user, new_email)}, salt=SALT
    )


def _render(name: str, user: User, context: dict) -> tuple[str, str]:
    with translation.override(user.language or settings.LANGUAGE_CODE):
        text = render_to_string(f"accounts/email/{name}.txt", {"user": user, **context})
        subject = render_to_string(f"accounts/email/{name}_subject.txt", {"user": user, **context})
    return " ".join(subject.split()), text


def send_confirmation(user: User, new_email: str) -> None:
    token = make_token(user, new_email)
    link = settings.AFTERCARE_BASE_URL + reverse("accounts:email-confirm", args=[token])
    hours = max(1, settings.AFTERCARE_EMAIL_CHANGE_SECONDS // 3600)
    subject, text = _render(
        "email_change_confirm", user, {"link": link, "new_email": new_email, "hours": hours}
    )
    send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [new_email])
    SecurityEvent.objects.create(
        action="accounts.email.change_requested",
        subject=user,
        actor=user,
        reason=f"to {new_email}",
    )


def _read(user: User, token: str) -> tuple[str, str]:
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.AFTERCARE_EMAIL_CHANGE_SECONDS)
        user_id, new_email, fingerprint = int(data["u"]), str(data["e"]), str(data["f"])
    except signing.SignatureExpired:
        raise LinkRefused("expired") from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise LinkRefused("invalid") from None
    if user_id != user.pk:
        raise LinkRefused("other_user")
    return new_email, fingerprint


def check(user: User, token: str) -> str:
    """The new address the link is for, if it would work now for ``user`` (or raises)."""
    new_email, fingerprint = _read(user, token)
    if not constant_time_compare(fingerprint, _fingerprint(user, new_email)):
        raise LinkRefused("used")
    if email_taken(new_email, exclude=user):
        raise LinkRefused("taken")
    return new_email


def confirm(user: User, token: str) -> str:
    """Apply the change the link asks for; returns the new address or raises."""
    new_email, fingerprint = _read(user, token)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not constant_time_compare(fingerprint, _fingerprint(locked, new_email)):
            raise LinkRefused("used")
        if email_taken(new_email, exclude=locked):
            raise LinkRefused("taken")
        old_email = locked.email
        locked.email = new_email
        try:
            with transaction.atomic():
                locked.save(update_fields=["email"])
        except IntegrityError:
            raise LinkRefused("taken") from None
        SecurityEvent.objects.create(
            action="accounts.email.changed",
            subject=locked,
            actor=locked,
            reason=f"from {old_email or '(none)'} to {new_email}",
        )
    user.email = new_email
    if old_email:
        subject, text = _render(
            "email_changed_notice", locked, {"old_email": old_email, "new_email": new_email}
        )
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [old_email], fail_silently=True)
    return new_email
