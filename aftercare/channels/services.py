"""Linking chats to customers, and what staff may see and do with chats and held messages.

Rules live here; the portal and console pages, the bot and the commands call them.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet
from aftercare.channels.models import ChannelMessage, ChatDelivery, ChatLink, LinkCode
from aftercare.ops.maintenance import check_writable
from aftercare.tenancy.models import Membership, Organisation

CODE_MINUTES = 15
# No look-alike characters (0/O, 1/I/L): the code is read off a screen and typed.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
SERVICE_USERNAME = "aftercare-messenger-intake"


class LinkError(Exception):
    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def service_actor() -> User:
    """The account that registers messenger requests on a customer's behalf.

    ``desk.open_ticket`` lets customers file only through the portal, the API and e-mail
    and treats messenger requests as registered by the desk for the caller (as phone
    calls are). This account is that desk: it holds exactly ``desk.view_all_tickets`` and
    ``desk.open_ticket_on_behalf`` as its own permissions, is in no staff group (so it is
    never offered as an assignee nor told anything), and cannot sign in (no password).
    ``open_ticket`` still checks that the reporter belongs to the organisation.
    """
    from django.contrib.auth.models import Permission

    user = User.objects.filter(username=SERVICE_USERNAME).first()
    if user is None:
        user = User(
            username=SERVICE_USERNAME,
            first_name=_("Messenger intake"),
            email="",
            is_active=True,
        )
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            user = User.objects.get(username=SERVICE_USERNAME)
    wanted = Permission.objects.filter(
        content_type__app_label="desk", codename__in=["view_all_tickets", "open_ticket_on_behalf"]
    )
    if user.user_permissions.count() != 2:
        user.user_permissions.set(wanted)
        user = User.objects.get(pk=user.pk)  # drop the permission cache
    return user


def audit(action: str, link: ChatLink, actor: User | None) -> None:
    """Linking and unlinking change who may write as a person: kept as security events."""
    from aftercare.accounts.models import SecurityEvent

    SecurityEvent.objects.create(
        action=action,
        subject_id=link.user_id,
        actor=actor,
        reason=f"{link.channel} chat {link.chat_id}",
    )


# -- codes (portal) ------------------------------------------------------------------------


def customer_organisations(user: User) -> list[Organisation]:
    ids = list(PermSet(user).memberships)
    return list(Organisation.objects.filter(pk__in=ids, is_active=True).order_by("name"))


def issue_code(*, user: User, channel: str, organisation: Organisation | None = None) -> str:
    """A fresh one-time code for ``user`` (any earlier unused code of theirs stops working)."""
    check_writable()
    permset = PermSet(user)
    if permset.is_agent or not permset.memberships:
        raise PermissionDenied(_("Only customer users link a messenger to their account."))
    if organisation is not None and organisation.pk not in permset.memberships:
        raise ValidationError(_("Choose one of your organisations."))
    code = "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))
    now = timezone.now()
    with transaction.atomic():
        LinkCode.objects.filter(user=user, channel=channel, used_at=None).update(used_at=now)
        LinkCode.objects.create(
            channel=channel,
            user=user,
            organisation=organisation,
            code_hash=hash_code(code),
            expires_at=now + timedelta(minutes=CODE_MINUTES),
        )
    return code


@transaction.atomic
def redeem_code(*, channel: str, chat_id: str, code: str, display_name: str = "") -> ChatLink:
    """Link a chat with a code from the portal: valid, unused and not expired, once."""
    check_writable()
    row = (
        LinkCode.objects.select_for_update(of=("self",))
        .filter(channel=channel, code_hash=hash_code(code))
        .first()
    )
    now = timezone.now()
    if row is None or row.used_at is not None:
        raise LinkError(
            _("This code is not valid (or was used already). Make a new one in the portal.")
        )
    if row.expires_at <= now:
        raise LinkError(_("This code has expired. Make a new one in the portal."))
    row.used_at = now
    row.save(update_fields=["used_at"])
    user = row.user
    if not user.is_active or PermSet(user).is_agent or not PermSet(user).memberships:
        raise LinkError(_("This account cannot link a messenger."))
    # A chat speaks for one person: a new code moves the chat to its owner.
    for old in ChatLink.objects.filter(channel=channel, chat_id=chat_id, active=True):
        ChatLink.objects.filter(pk=old.pk).update(active=False, unlinked_at=now)
        audit("channels.chat.unlinked", old, user)
    organisation = row.organisation
    if organisation is not None and organisation.pk not in PermSet(user).memberships:
        organisation = None
    link = ChatLink.objects.create(
        channel=channel,
        chat_id=chat_id,
        user=user,
        organisation=organisation,
        display_name=display_name[:255],
        linked_at=now,
    )
    audit("channels.chat.linked", link, user)
    return link


# -- who sees which links and messages ------------------------------------------------------


def _members_in(organisation_ids) -> Exists:
    return Exists(
        Membership.objects.with_scopes_disabled().filter(
            user=OuterRef("user"), organisation_id__in=organisation_ids
        )
    )


def visible_links(permset: PermSet) -> QuerySet[ChatLink]:
    """Active links the viewer may see: a customer their own; staff the links of contacts
    of organisations in their reach (a restricted agent: only of their customers)."""
    rows = ChatLink.objects.filter(active=True)
    if not permset.is_authenticated:
        return rows.none()
    if not permset.is_agent:
        return rows.filter(user=permset.user)
    restricted = permset.agent_restricted_to
    if restricted is None:
        return rows
    return rows.filter(_members_in(list(restricted)))


def may_triage(permset: PermSet) -> bool:
    """Held messages from unknown chats belong to no organisation yet: like mail from
    unknown senders, only agents with the triage right who serve every customer see them."""
    return (
        permset.is_agent and permset.has("mail.triage_mail") and permset.agent_restricted_to is None
    )


def visible_messages(permset: PermSet) -> QuerySet[ChannelMessage]:
    rows = ChannelMessage.objects.all()
    if not permset.is_agent:
        return rows.none()
    restricted = permset.agent_restricted_to
    if restricted is None:
        if may_triage(permset):
            return rows
        return rows.exclude(organisation=None)
    return rows.filter(organisation_id__in=list(restricted))


def visible_deliveries(permset: PermSet) -> QuerySet[ChatDelivery]:
    """Replies sent (or being sent) to chats: staff, for the organisations in reach."""
    rows = ChatDelivery.objects.all()
    if not permset.is_agent:
        return rows.none()
    restricted = permset.agent_restricted_to
    return rows if restricted is None else rows.filter(organisation_id__in=list(restricted))


@transaction.atomic
def unlink(*, link: ChatLink, actor: User) -> None:
    check_writable()
    permset = PermSet(actor)
    if not visible_links(permset).filter(pk=link.pk).exists():
        raise PermissionDenied(_("You may not unlink this chat."))
    ChatLink.objects.filter(pk=link.pk).update(active=False, unlinked_at=timezone.now())
    audit("channels.chat.unlinked", link, actor)


# -- triage -------------------------------------------------------------------------------


def contact_for(*, organisation: Organisation, who: str) -> User:
    """A customer user of ``organisation`` named by user name or e-mail address."""
    who = (who or "").strip()
    if not who:
        raise LinkError(_("Enter the contact's user name or e-mail address."))
    users = list(
        User.objects.filter(
            Q(username__iexact=who) | Q(email__iexact=who),
            is_active=True,
            memberships__organisation=organisation,
        ).distinct()[:2]
    )
    if len(users) != 1:
        raise LinkError(
            _("No single active contact of this organisation has that name or address.")
        )
    if PermSet(users[0]).is_agent:
        raise LinkError(_("That person is a staff member; link the chat to a customer contact."))
    return users[0]


def link_held(
    *, row: ChannelMessage, actor: User, organisation: Organisation, who: str
) -> ChatLink:
    """An operator links the unknown chat of a held message to a contact; the chat's held
    messages are then processed as the contact's (``intake.release_held``)."""
    check_writable()
    permset = PermSet(actor)
    if not may_triage(permset):
        raise PermissionDenied(_("You may not handle messenger triage."))
    if not permset.sees_organisation(organisation.pk):
        raise PermissionDenied(_("You may not file requests for this organisation."))
    if row.outcome != ChannelMessage.Outcome.TRIAGE:
        raise LinkError(_("This message was already handled."))
    contact = contact_for(organisation=organisation, who=who)
    with transaction.atomic():
        if ChatLink.objects.filter(channel=row.channel, chat_id=row.chat_id, active=True).exists():
            raise LinkError(_("This chat is linked already."))
        link = ChatLink.objects.create(
            channel=row.channel,
            chat_id=row.chat_id,
            user=contact,
            organisation=organisation,
            display_name=row.sender_display,
            linked_by=actor,
        )
        audit("channels.chat.linked", link, actor)
    return link


@transaction.atomic
def discard(*, row: ChannelMessage, actor: User, reason: str) -> None:
    check_writable()
    if not may_triage(PermSet(actor)):
        raise PermissionDenied(_("You may not handle messenger triage."))
    row = ChannelMessage.objects.select_for_update(of=("self",)).get(pk=row.pk)
    if row.outcome != ChannelMessage.Outcome.TRIAGE:
        raise LinkError(_("This message was already handled."))
    if not reason.strip():
        raise LinkError(_("Please give a reason for discarding the message."))
    row.outcome = ChannelMessage.Outcome.DISCARDED
    row.detail = (row.detail + "\n" + reason.strip()[:1000]).strip()
    row.resolved_at = timezone.now()
    row.resolved_by = actor
    row.save(update_fields=["outcome", "detail", "resolved_at", "resolved_by"])
