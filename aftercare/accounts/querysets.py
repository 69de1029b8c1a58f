from __future__ import annotations

from django.db.models import Q, QuerySet

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
