"""Copying colleagues on a request from the portal (CC): the reporter and coordinators."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.desk.querysets import get_ticket_for_user
from aftercare.notifications import services
from aftercare.ops.maintenance import MaintenanceError


@login_required
def request_people(request: HttpRequest, number: str) -> HttpResponse:
    """POST ``op`` = add | remove, ``user``: a contact of the request's organisation."""
    # Looked up before the method is checked: another organisation's number is a 404
    # whatever the method, so not even a 405 confirms that it exists.
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    back = redirect("portal:detail", ticket.number)
    try:
        person = User.objects.get(pk=int(request.POST.get("user", "")), is_active=True)
    except (User.DoesNotExist, ValueError, OverflowError):
        messages.error(request, _("Choose a person from the list."))
        return back
    op = request.POST.get("op", "")
    try:
        if op == "add":
            services.follow(ticket=ticket, actor=request.user, user=person)
            messages.success(
                request,
                _("%(name)s is now copied on this request.") % {"name": person.display_name},
            )
        elif op == "remove":
            services.unfollow(ticket=ticket, actor=request.user, user=person)
            messages.success(request, _("%(name)s was removed.") % {"name": person.display_name})
        else:
            messages.error(request, _("Unknown action."))
    except (ValidationError, PermissionDenied, MaintenanceError) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text or _("You may not do that."))
    return back
