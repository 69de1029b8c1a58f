"""The settings home: the sections this person may open, and the recent changes."""

from __future__ import annotations

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from aftercare.console.views.common import agent_required
from aftercare.console.views.settings._base import is_restricted, render_page, sections

RECENT = 20


def recent_changes(request: HttpRequest, allowed: list) -> list[LogEntry]:
    """Changes to the models of the sections this person may open. A restricted agent
    sees only their own changes: others' may name organisations they must not see."""
    types = ContentType.objects.get_for_models(*[s.model for s in allowed])
    by_type = {types[s.model].pk: s for s in allowed}
    entries = LogEntry.objects.filter(content_type_id__in=list(by_type)).select_related("user")
    if is_restricted(request):
        entries = entries.filter(user=request.user)
    rows = list(entries.order_by("-action_time", "-pk")[:RECENT])
    for row in rows:
        row.section = by_type[row.content_type_id]
    return rows


@agent_required
def settings_home(request: HttpRequest) -> HttpResponse:
    allowed = [s for s in sections() if s.may_enter(request)]
    if not allowed:
        raise PermissionDenied(_("You may not change these settings."))
    return render_page(
        request,
        "console/settings/home.html",
        None,
        {"sections": allowed, "recent": recent_changes(request, allowed), "title": _("Settings")},
    )
