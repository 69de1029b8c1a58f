"""Who is told about a SaaS migration, and what: new quote requests, the customer's
answer to an offer, the final statement.

Everything goes through the notification choke point (``notifications.services.tell``
for people with an account: the bell and, by their choice, mail; ``mail.outbound.queue``
for the requester's address before there is an organisation). Recipients:

* staff: active agents with the manage permission who may see the migration (restricted
  agents only for their organisations; a lead without an organisation only for agents
  who serve every customer);
* the customer: once the migration belongs to an organisation, only people of that
  organisation — its coordinators and the contact's own account if they are a member;
  with nobody of those, the organisation's primary contact persons by address. Before
  that, the requester's address (they typed it in the quote form).

``may_be_told`` is checked for every recipient right before telling, whatever picked
them: nobody outside the organisation (or outside a restricted agent's organisations) is
ever told.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import formats, translation

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet, Role
from aftercare.saas.models import Migration, Offer, Statement


def _staff_link(migration: Migration) -> str:
    return settings.AFTERCARE_BASE_URL + reverse("saas:detail", args=[migration.pk])


def _portal_link(migration: Migration) -> str:
    return settings.AFTERCARE_BASE_URL + reverse("saas_portal:detail", args=[migration.pk])


def may_be_told(user: User, migration: Migration) -> bool:
    """Staff who manage migrations and may see this one; customers of its organisation."""
    from aftercare.saas.services import MANAGE, may_see

    if user is None or not user.is_active:
        return False
    permset = PermSet(user)
    if permset.is_agent:
        return permset.has(MANAGE) and may_see(permset, migration)
    return (
        migration.organisation_id is not None and migration.organisation_id in permset.memberships
    )


def staff(migration: Migration) -> list[User]:
    from aftercare.accounts.querysets import agents

    return [u for u in agents() if may_be_told(u, migration)]


def customers(migration: Migration) -> list[User]:
    """The organisation's coordinators and the contact's own account, if a member."""
    if migration.organisation_id is None:
        return []
    from aftercare.tenancy.models import Membership

    rows = (
        Membership.objects.filter(organisation_id=migration.organisation_id, user__is_active=True)
        .select_related("user")
        .order_by("user_id")
    )
    people = [
        m.user
        for m in rows
        if m.role == Role.COORDINATOR or m.user.email.lower() == migration.email.lower()
    ]
    return [u for u in people if may_be_told(u, migration)]


def _contact_addresses(migration: Migration) -> list[str]:
    """With nobody of the organisation signed up: its primary contact persons."""
    from aftercare.tenancy.models import ContactPerson

    return sorted(
        {
            c.email.lower()
            for c in ContactPerson.objects.filter(
                organisation_id=migration.organisation_id, is_primary=True
            ).exclude(email="")
        }
    )


def _tell_users(kind: str, key: str, users, migration: Migration, *, staff_side: bool, **kw):
    from aftercare.notifications.services import tell

    told = []
    link = _staff_link(migration) if staff_side else _portal_link(migration)
    body = kw.pop("body", "")
    # Where the bell's notice leads (the notice has no request to open).
    path = reverse("saas:detail" if staff_side else "saas_portal:detail", args=[migration.pk])
    kw["params"] = {**(kw.get("params") or {}), "path": path}
    for user in users:
        if not may_be_told(user, migration):  # the last line of defence
            continue
        if tell(
            kind,
            key=f"{key}:{user.pk}",
            ticket=None,
            user=user,
            body=f"{body}\n\n{link}".strip(),
            **kw,
        ):
            told.append(user)
    return told


def quote_received(migration: Migration) -> None:
    """A new quote request: staff who may see it, and a receipt to the requester."""
    from aftercare.mail import outbound

    params = {"company": migration.company, "reference": migration.reference}
    body = (
        f"{migration.company} — {migration.contact_name} <{migration.email}>\n"
        f"{migration.product} · {migration.users}"
    )
    _tell_users(
        "saas_quote",
        f"saasquote{migration.pk}",
        staff(migration),
        migration,
        staff_side=True,
        params=params,
        body=body,
    )
    outbound.queue(
        "saas_quote_received",
        key=f"saasquote{migration.pk}:{migration.email}",
        address=migration.email,
        language=migration.doc_language,
        params=params,
    )


def offer_decided(offer: Offer) -> None:
    """The customer's answer: to staff and to the customer's people (a confirmation)."""
    from aftercare.mail import outbound

    migration = offer.migration
    kind = (
        "saas_offer_confirmed" if offer.status == Offer.Status.CONFIRMED else "saas_offer_declined"
    )
    key = f"saasdecision{offer.pk}:{offer.decided_at:%Y%m%d%H%M%S%f}"
    params = {"offer": offer.number, "author": offer.decided_by_name or migration.email}
    body = offer.decision_note
    _tell_users(kind, key, staff(migration), migration, staff_side=True, params=params, body=body)
    if migration.organisation_id is None:
        outbound.queue(
            kind,
            key=f"{key}:{migration.email}",
            address=migration.email,
            language=migration.doc_language,
            params=params,
            body=body,
        )
        return
    _tell_users(
        kind, key, customers(migration), migration, staff_side=False, params=params, body=body
    )


def statement_issued(statement: Statement) -> None:
    """The final statement with its PDF: to the customer's people, and to staff."""
    from aftercare.mail import outbound

    migration = statement.migration
    params = {"invoice": statement.number, "reference": migration.reference}
    key = f"saasstatement{statement.pk}"

    def body(language: str) -> str:
        with translation.override(language):
            from django.utils.translation import gettext as _

            due = formats.date_format(statement.due_on, "SHORT_DATE_FORMAT")
            return _("Amount due: %(gross)s %(currency)s, payable by %(due)s.") % {
                "gross": formats.number_format(statement.gross, 2, use_l10n=True),
                "currency": statement.currency,
                "due": due,
            }

    people = customers(migration)
    for user in people:
        _tell_users(
            "saas_statement",
            key,
            [user],
            migration,
            staff_side=False,
            params=params,
            body=body(user.language),
            attachment=statement.pdf.name,
        )
    if not people:
        for address in _contact_addresses(migration):
            outbound.queue(
                "saas_statement",
                key=f"{key}:{address}",
                address=address,
                language=migration.doc_language,
                params=params,
                body=body(migration.doc_language),
                attachment=statement.pdf.name,
            )
    for user in staff(migration):
        _tell_users(
            "saas_statement",
            key,
            [user],
            migration,
            staff_side=True,
            params=params,
            body=body(user.language),
            attachment=statement.pdf.name,
        )
