"""The request page while it is open: what changed since it was loaded, canned answers.

Both answer exactly as the page does: ``get_ticket_for_user`` (404 for a restricted agent
on another organisation's request) and ``build_timeline`` (internal notes only for staff
allowed to read them), so polling never shows more than a reload would.
"""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from aftercare.console.views.common import agent_required
from aftercare.desk import canned
from aftercare.desk.querysets import get_ticket_for_user
from aftercare.desk.timeline import build_timeline


def _latest_news(request: HttpRequest, timeline) -> str:
    """ "Olga Petrenko replied 1 minute ago": the newest entry someone else made."""
    mine = request.user.pk
    for entry in reversed(timeline):
        if entry.kind == "message":
            who = entry.obj.author
            what = _("added an internal note") if entry.obj.is_internal else _("replied")
        else:
            who = entry.obj.actor
            what = entry.text
        if who is not None and who.pk == mine:
            continue
        name = who.display_name if who is not None else "Aftercare"
        if timezone.now() - entry.at < timedelta(minutes=1):
            return _("%(name)s %(what)s just now — reload to see it.") % {
                "name": name,
                "what": what,
            }
        return _("%(name)s %(what)s %(ago)s ago — reload to see it.") % {
            "name": name,
            "what": what,
            "ago": timesince(entry.at, timezone.now(), depth=1),
        }
    return _("This request was changed — reload to see it.")


@agent_required
@never_cache
def ticket_changes(request: HttpRequest, number: str) -> HttpResponse:
    """``?since=<version>``: the current version and, if it moved, the timeline entries."""
    # Looked up before the method is checked: another organisation's number is a 404
    # whatever the method, so not even a 405 confirms that it exists.
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    try:
        since = int(request.GET.get("since", ""))
    except ValueError:
        since = None
    if since is not None and since == ticket.version:
        return JsonResponse({"version": ticket.version, "changed": False})
    timeline = build_timeline(request.permset, ticket)
    html = render_to_string(
        "desk/_timeline.html", {"timeline": timeline, "ticket": ticket}, request=request
    )
    return JsonResponse(
        {
            "version": ticket.version,
            "changed": True,
            "status": ticket.get_status_display(),
            "news": _latest_news(request, timeline),
            "html": html,
        }
    )


@agent_required
@never_cache
def ticket_canned(request: HttpRequest, number: str) -> HttpResponse:
    """``?answer=<id>``: a canned answer filled in for this request (as plain text, which
    the page inserts as text, never as HTML); without it, the answers offered."""
    # Looked up before the method is checked: another organisation's number is a 404
    # whatever the method, so not even a 405 confirms that it exists.
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    offered = canned.offered_to(request.user)
    if "answer" not in request.GET:  # the list the picker offers
        return JsonResponse({"answers": list(offered.values("id", "title", "language"))})
    try:
        pk = int(request.GET["answer"])
    except ValueError:
        pk = 0
    answer = get_object_or_404(offered, pk=pk)
    # What the answer also sets when it is sent: the page offers the move only if it is
    # one of this agent's (the composer's "Send and mark …"), and shows the priority.
    return JsonResponse(
        {
            "id": answer.pk,
            "title": answer.title,
            "text": canned.fill(answer.body, ticket=ticket, agent=request.user),
            "set_status": answer.set_status or "",
            "set_status_label": answer.get_set_status_display() if answer.set_status else "",
            "set_priority": answer.set_priority,
            "set_priority_label": (
                answer.get_set_priority_display() if answer.set_priority else ""
            ),
        }
    )
