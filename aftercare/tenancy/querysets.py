from __future__ import annotations

from django.db.models import QuerySet

from aftercare.accounts.roles import PermSet
from aftercare.tenancy.models import Organisation


def visible_organisations(permset: PermSet) -> QuerySet[Organisation]:
    """Organisations the user may see (scope enforces it too; this is the explicit rule)."""
    qs = Organisation.objects.all()
    if not permset.is_authenticated:
        return qs.none()
    if permset.is_agent:
        restricted = permset.agent_restricted_to
        return qs if restricted is None else qs.filter(pk__in=restricted)
    return qs.filter(pk__in=list(permset.memberships))
