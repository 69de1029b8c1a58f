"""Telling people: the in-app bell, the mail it may also send, and who follows a request.

``tell`` is the one choke point every producer goes through (``mail.notifications``):
it drops recipients who may not see the request (``PermSet.may_view_ticket``), writes the
in-app notification and, unless the recipient turned that kind of mail off, queues the
mail — both keyed, so a repeated run tells nobody twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet, Role
from aftercare.desk.models import Ticket
from aftercare.notifications.kinds import CHOICE_OF, IN_APP, MAIL_ALWAYS
from aftercare.notifications.models import Follower, MailChoice, Notification
from aftercare.ops.maintenance import check_writable


def may_be_told(user: User | None, ticket: Ticket | None) -> bool:
    """Whether ``user`` may be told about ``ticket``: only people who may see it."""
    if user is None or not user.is_active:
        return False
    return ticket is None or PermSet(user).may_view_ticket(ticket)


def wants_mail(user: User, kind: str) -> bool:
    if kind in MAIL_ALWAYS:
        return True
    kind = CHOICE_OF.get(kind, kind)
    return not MailChoice.objects.filter(user=user, kind=kind, by_mail=False).exists()


def tell(
    kind: str,
    *,
    key: str,
    ticket: Ticket | None,
    user: User | None,
    actor: User | None = None,
    params: dict | None = None,
    body: str = "",
    mail: bool = True,
    **mail_kwargs,
) -> bool:
    """Tell one person one thing, in the app and (by their choice) by mail.

    The notice and the mail are made first and written together (``followups.write``):
    while a change's follow-ups are expanded, the writes wait for the short transaction
    that ends the expansion, and the rendering is done outside it."""
    if not may_be_told(user, ticket):
        return False
    from aftercare.desk.followups import write
    from aftercare.mail import outbound

    params = dict(params or {})
    row = None
    if kind in IN_APP:
        row = Notification(
            user=user,
            ticket=ticket,
            organisation_id=ticket.organisation_id if ticket else None,
            kind=kind,
            key=key[:200],
            actor=actor,
            params={k: str(v) for k, v in params.items()},
            excerpt=_excerpt(body),
        )
    mail_row = None
    if mail and wants_mail(user, kind):
        mail_row = outbound.prepare(
            kind, key=key, ticket=ticket, user=user, params=params, body=body, **mail_kwargs
        )
    told = True

    def save() -> None:
        nonlocal told
        if row is not None:
            try:
                with transaction.atomic():
                    row.save()
            except IntegrityError:
                told = False  # told already by an earlier run of the same change
                return
        if mail_row is not None:
            outbound.save(mail_row)

    write(save)
    return told


def _excerpt(body: str) -> str:
    text = " ".join((body or "").split())
    return text if len(text) <= 280 else text[:279] + "…"


# -- reading --------------------------------------------------------------------------


def for_user(user: User) -> QuerySet[Notification]:
    """A person's notifications about what they may still see (an agent restricted since,
    a customer who left the organisation: those rows are hidden, not shown)."""
    rows = Notification.objects.filter(user=user)
    permset = PermSet(user)
    scope = permset.organisation_scope
    if scope is not None:
        rows = rows.filter(Q(organisation_id__in=scope) | Q(organisation__isnull=True))
    if not permset.is_agent:
        from aftercare.desk.querysets import visible_tickets

        rows = rows.filter(
            Q(ticket__isnull=True) | Q(ticket__in=visible_tickets(permset).values("pk"))
        )
    return rows


BELL_CAP = 99


def unread_count(user: User) -> int:
    """Unread notifications, counted up to ``BELL_CAP + 1`` (shown as "99+")."""
    return len(
        for_user(user).filter(read_at__isnull=True).values_list("pk", flat=True)[: BELL_CAP + 1]
    )


def mark_read(user: User, ids: Iterable[int] | None = None, *, ticket: Ticket | None = None) -> int:
    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=[i for i in ids if 0 < i < 2**63])
    if ticket is not None:
        rows = rows.filter(ticket=ticket)
    return rows.update(read_at=timezone.now())


def set_mail_choices(user: User, choices: dict[str, bool]) -> None:
    check_writable()
    with transaction.atomic():
        for kind, by_mail in choices.items():
            if kind in MAIL_ALWAYS:
                continue
            MailChoice.objects.update_or_create(user=user, kind=kind, defaults={"by_mail": by_mail})


# -- mentions -------------------------------------------------------------------------

MENTION = re.compile(r"(?<![\w@.])@([\w][\w.+-]*)", re.UNICODE)


def mentioned_users(text: str) -> list[User]:
    """Active staff named as ``@username`` in ``text`` (case-insensitive), once each."""
    names = {m.rstrip(".-").lower() for m in MENTION.findall(text or "")}
    names.discard("")
    if not names:
        return []
    from aftercare.accounts.querysets import agents

    query = Q()
    for name in names:
        query |= Q(username__iexact=name)
    return list(agents().filter(query))


# -- followers: watchers (staff) and CC (customer contacts) ----------------------------


def _event(
    ticket: Ticket, actor: User, action: str, *, new: str = "", old: str = "", internal: bool
) -> None:
    from aftercare.desk.services import _event as desk_event

    desk_event(ticket, actor, action, field="followers", new=new, old=old, internal=internal)


def follow(*, ticket: Ticket, actor: User, user: User) -> Follower:
    """Add ``user`` as a watcher (staff) or a CC (a contact of the request's organisation).

    Staff add anyone who may see the request; a customer adds contacts of the request's
    organisation (the reporter and coordinators may share their request)."""
    check_writable()
    actor_perms = PermSet(actor)
    if not actor_perms.may_view_ticket(ticket):
        raise PermissionDenied(_("You may not change this request."))
    target = PermSet(user)
    if not user.is_active:
        raise ValidationError(_("This account is deactivated."))
    if target.is_agent:
        if not actor_perms.is_agent:
            raise PermissionDenied(_("Only staff add watchers."))
        if not target.sees_organisation(ticket.organisation_id):
            raise ValidationError(
                _("%(name)s may not see this organisation's requests.")
                % {"name": user.display_name}
            )
        role = Follower.Role.WATCHER
    else:
        if target.memberships.get(ticket.organisation_id) not in (Role.CUSTOMER, Role.COORDINATOR):
            raise ValidationError(
                _("Only contacts of %(organisation)s can be copied on this request.")
                % {"organisation": ticket.organisation.name}
            )
        if user.pk == ticket.reporter_id:
            raise ValidationError(_("The reporter is told about this request already."))
        if not actor_perms.is_agent and not (
            actor.pk == ticket.reporter_id or ticket.organisation_id in actor_perms.coordinator_of
        ):
            raise PermissionDenied(_("Only the reporter or a coordinator may copy others."))
        role = Follower.Role.CC
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        row, created = Follower.objects.get_or_create(
            ticket=locked,
            user=user,
            defaults={"organisation_id": locked.organisation_id, "role": role, "added_by": actor},
        )
        if created:
            _event(
                locked,
                actor,
                f"desk.{role}.added",
                new=user.display_name,
                internal=role == Follower.Role.WATCHER,
            )
            if user.pk != actor.pk:
                tell(
                    "followed",
                    key=f"follow{row.pk}",
                    ticket=locked,
                    user=user,
                    actor=actor,
                    params={"author": actor.display_name},
                )
    return row


def unfollow(*, ticket: Ticket, actor: User, user: User) -> bool:
    check_writable()
    actor_perms = PermSet(actor)
    if not actor_perms.may_view_ticket(ticket):
        raise PermissionDenied(_("You may not change this request."))
    row = Follower.objects.filter(ticket=ticket, user=user).first()
    if row is None:
        return False
    if not actor_perms.is_agent and row.role == Follower.Role.WATCHER:
        raise PermissionDenied(_("Only staff remove watchers."))
    if (
        not actor_perms.is_agent
        and user.pk != actor.pk
        and not (
            actor.pk == ticket.reporter_id or ticket.organisation_id in actor_perms.coordinator_of
        )
    ):
        raise PermissionDenied(_("Only the reporter or a coordinator may remove others."))
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        deleted, _rows = Follower.objects.filter(pk=row.pk).delete()
        if deleted:
            _event(
                locked,
                actor,
                f"desk.{row.role}.removed",
                old=user.display_name,
                internal=row.role == Follower.Role.WATCHER,
            )
    return bool(deleted)


def followers(ticket: Ticket, role: str | None = None) -> list[User]:
    rows = Follower.objects.filter(ticket=ticket).select_related("user")
    if role:
        rows = rows.filter(role=role)
    return [f.user for f in rows.order_by("created_at", "pk")]
