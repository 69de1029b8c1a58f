from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from aftercare.accounts.models import User
from aftercare.accounts.roles import GROUP_NAMES, Role


def agents() -> QuerySet[User]:
    """Active staff members (anyone in a staff group, and superusers)."""
    return (
        User.objects.filter(is_active=True)
        .filter(Q(groups__name__in=list(GROUP_NAMES.values())) | Q(is_superuser=True))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def consultants() -> QuerySet[User]:
    return agents().filter(groups__name=GROUP_NAMES[Role.CONSULTANT])


def seeing_organisation(users: QuerySet[User], organisation_id: int | None) -> QuerySet[User]:
    """Of ``users`` (staff), those who may see ``organisation_id``: the unrestricted ones
    and those restricted to it. The query twin of ``PermSet.sees_organisation`` for staff
    (choice lists of assignees and consultants, the API's people look-up)."""
    from aftercare.tenancy.models import AgentRestriction

    if organisation_id is None:
        return users.none()
    restricted = AgentRestriction.objects.filter(user=OuterRef("pk"))
    return users.filter(
        ~Exists(restricted) | Exists(restricted.filter(organisation_id=organisation_id))
    )


def agents_seeing(organisation_id: int | None) -> QuerySet[User]:
    """Staff who may see one organisation's requests (who may be assigned them)."""
    return seeing_organisation(agents(), organisation_id)


def consultants_seeing(organisation_id: int | None) -> QuerySet[User]:
    return seeing_organisation(consultants(), organisation_id)
