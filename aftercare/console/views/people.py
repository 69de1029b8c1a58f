"""Who else follows a request: watchers (staff) and CC (the customer's contacts), and the
colleagues a note may mention."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.querysets import agents_seeing
from aftercare.console.views.common import agent_required
from aftercare.desk.querysets import get_ticket_for_user
from aftercare.notifications import services
from aftercare.ops.maintenance import MaintenanceError


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or _("You may not do that.")


@agent_required
def ticket_people(request: HttpRequest, number: str) -> HttpResponse:
    """POST ``op`` = watch | unwatch (oneself), add | remove (``user``)."""
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    op = request.POST.get("op", "")
    back = redirect("console:ticket", ticket.number)
    if op in ("watch", "unwatch"):
        person = request.user
    else:
        try:
            person = User.objects.get(pk=int(request.POST.get("user", "")), is_active=True)
        except (User.DoesNotExist, ValueError):
            messages.error(request, _("Choose a person from the list."))
            return back
    try:
        if op in ("watch", "add"):
            services.follow(ticket=ticket, actor=request.user, user=person)
            if op == "watch":
                messages.success(request, _("You are watching this request."))
            else:
                messages.success(request, _("%(name)s was added.") % {"name": person.display_name})
        elif op in ("unwatch", "remove"):
            services.unfollow(ticket=ticket, actor=request.user, user=person)
            messages.success(request, _("%(name)s was removed.") % {"name": person.display_name})
        else:
            messages.error(request, _("Unknown action."))
    except (ValidationError, PermissionDenied, MaintenanceError) as exc:
        messages.error(request, _error_text(exc))
    return back


@agent_required
def ticket_mentions(request: HttpRequest, number: str) -> HttpResponse:
    """``?q=``: colleagues who may see this request, for ``@`` in a note (at most 8)."""
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    q = request.GET.get("q", "").strip().lstrip("@")[:50]
    people = agents_seeing(ticket.organisation_id)
    if q:
        from django.db.models import Q

        people = people.filter(
            Q(username__istartswith=q) | Q(first_name__istartswith=q) | Q(last_name__istartswith=q)
        )
    rows = [{"username": u.username, "name": u.display_name} for u in people[:8]]
    return JsonResponse({"people": rows})
