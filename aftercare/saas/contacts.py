"""The lead's contact in the portal: when staff make the lead a customer organisation, the
contact becomes its coordinator (a new account, invited by mail, or their existing
customer account), so they confirm and accept in the portal."""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet, Role
from aftercare.saas.models import Migration
from aftercare.tenancy.models import Membership, Organisation

log = logging.getLogger(__name__)


def _free_username(email: str) -> str:
    base = email.strip().lower()[:140]
    name, n = base, 1
    while User.objects.filter(username__iexact=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def portal_account(migration: Migration, org: Organisation, actor: User) -> User | None:
    """The lead's contact becomes the new organisation's coordinator, so they confirm
    and accept in the portal: a new account (no password; the invitation's link lets them
    choose one) or, when they have an account already, a membership of it. Staff
    accounts are never made members of a customer."""
    from aftercare.saas.services import _event  # the history of the migration

    email = migration.email.strip().lower()
    memberships = Membership.objects.with_scopes_disabled()  # the organisation is new
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is not None:
        if PermSet(user).is_agent:
            _event(
                migration,
                actor,
                "saas.contact.not_invited",
                note=_("%(email)s is a staff account: no portal membership was given.")
                % {"email": email},
            )
            return None
        memberships.get_or_create(user=user, organisation=org, defaults={"role": Role.COORDINATOR})
        _event(migration, actor, "saas.contact.member", note=user.display_name)
        return user
    first, _sep, last = migration.contact_name.strip().partition(" ")
    user = User(
        username=_free_username(email),
        email=email,
        first_name=first[:150],
        last_name=last[:150],
        phone=migration.phone[:50],
        language=migration.doc_language,
        time_zone=org.time_zone,
    )
    user.set_unusable_password()
    user.save()
    memberships.create(user=user, organisation=org, role=Role.COORDINATOR)
    _event(migration, actor, "saas.contact.invited", note=email)
    transaction.on_commit(lambda: send_invitation(user))
    return user


def send_invitation(user: User) -> bool:
    """The project's invitation: the password-reset mail, whose link lets a new person
    choose a password (as ``console`` sends it for new users), in their language."""
    from urllib.parse import urlsplit

    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from aftercare.accounts.forms import ThrottledPasswordResetForm

    base = urlsplit(settings.AFTERCARE_BASE_URL)
    context = {
        "email": user.email,
        "user": user,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
        "base_url": settings.AFTERCARE_BASE_URL,
        "hours": max(1, settings.PASSWORD_RESET_TIMEOUT // 3600),
        "protocol": base.scheme or "https",
        "domain": base.netloc,
        "site_name": "Aftercare",
    }
    try:
        ThrottledPasswordResetForm().send_mail(
            "accounts/email/password_reset_subject.txt",
            "accounts/email/password_reset.txt",
            context,
            None,
            user.email,
        )
    except (OSError, smtplib.SMTPException):
        log.exception("could not send the invitation to %s", user.pk)
        return False
    return True
