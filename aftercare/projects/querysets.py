"""Who sees which project: the one rule every page and check uses."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from aftercare.accounts.roles import PermSet
from aftercare.projects.models import Project


def visible_projects(permset: PermSet) -> QuerySet[Project]:
    """Agents with the view permission: their organisations' projects (all, unless
    restricted); customers: their organisations' projects; others: none."""
    qs = Project.objects.all()
    if not permset.is_authenticated:
        return qs.none()
    if permset.is_agent:
        if not permset.has("projects.view_project"):
            return qs.none()
        restricted = permset.agent_restricted_to
        return qs if restricted is None else qs.filter(organisation_id__in=restricted)
    return qs.filter(organisation_id__in=list(permset.memberships))


def get_project_for_user(permset: PermSet, pk: int | str) -> Project:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("No such project") from None
    project = visible_projects(permset).select_related("organisation", "system").filter(pk=pk)
    found = project.first()
    if found is None:
        raise Http404("No such project")
    return found
