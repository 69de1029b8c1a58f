"""Related requests and merging duplicates, from the request page's sidebar.

POST-only; every change goes through ``desk.merge``. A refusal shows the request page
again with the reason and what was typed; nothing is lost.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from aftercare.console.views.common import agent_required
from aftercare.console.views.request import _ticket_context
from aftercare.desk import merge
from aftercare.desk.models import Ticket
from aftercare.desk.querysets import get_ticket_for_user, visible_tickets


def _number(request: HttpRequest, name: str) -> str:
    return " ".join(request.POST.get(name, "").split()).upper()[:32]


def _other(request: HttpRequest, number: str) -> Ticket | None:
    """The request named in the form, if this user may see it (else None: nothing is said
    about whether it exists)."""
    if not number:
        return None
    return visible_tickets(request.permset).filter(number=number).first()


def _refused(
    request: HttpRequest, ticket: Ticket, text: str, *, status: int = 400, **typed
) -> HttpResponse:
    messages.error(request, text)
    ticket.refresh_from_db()
    context = _ticket_context(request, ticket)
    context["related_form"] = typed
    return render(request, "console/ticket.html", context, status=status)


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or _("You may not do that.")


def _no_such(number: str) -> str:
    if not number:
        return _("Enter the number of a request.")
    return _("There is no request %(number)s that you may see.") % {"number": number}


@agent_required
@require_POST
def ticket_link(request: HttpRequest, number: str) -> HttpResponse:
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    other_number = _number(request, "other")
    other = _other(request, other_number)
    if other is None:
        return _refused(request, ticket, _no_such(other_number), other=other_number)
    try:
        made = merge.link(ticket=ticket, other=other, actor=request.user)
    except PermissionDenied as exc:
        return _refused(request, ticket, _why(exc), status=403, other=other_number)
    except ValidationError as exc:
        return _refused(request, ticket, _why(exc), other=other_number)
    if made:
        messages.success(
            request,
            _("%(a)s and %(b)s are now linked.") % {"a": ticket.number, "b": other.number},
        )
    else:
        messages.info(
            request,
            _("%(a)s and %(b)s were linked already.") % {"a": ticket.number, "b": other.number},
        )
    return redirect("console:ticket", number=ticket.number)


@agent_required
@require_POST
def ticket_unlink(request: HttpRequest, number: str) -> HttpResponse:
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    other_number = _number(request, "other")
    other = _other(request, other_number)
    if other is None:
        return _refused(request, ticket, _no_such(other_number))
    try:
        removed = merge.unlink(ticket=ticket, other=other, actor=request.user)
    except PermissionDenied as exc:
        return _refused(request, ticket, _why(exc), status=403)
    except ValidationError as exc:
        return _refused(request, ticket, _why(exc))
    if removed:
        messages.success(
            request,
            _("%(a)s and %(b)s are no longer linked.") % {"a": ticket.number, "b": other.number},
        )
    else:
        messages.info(
            request, _("%(a)s and %(b)s were not linked.") % {"a": ticket.number, "b": other.number}
        )
    return redirect("console:ticket", number=ticket.number)


@agent_required
@require_POST
def ticket_merge(request: HttpRequest, number: str) -> HttpResponse:
    duplicate = get_ticket_for_user(request.permset, number, lookup="number")
    survivor_number = _number(request, "survivor")
    note = request.POST.get("note", "").strip()[:2000]
    typed = {"survivor": survivor_number, "note": note, "merging": True}
    if not merge.may_merge(request.permset, duplicate):
        return _refused(request, duplicate, _("You may not merge requests."), status=403, **typed)
    survivor = _other(request, survivor_number)
    if survivor is None:
        return _refused(request, duplicate, _no_such(survivor_number), **typed)
    if not request.POST.get("confirm"):
        return _refused(
            request,
            duplicate,
            _("Nothing was merged: tick the box to confirm that %(number)s is to be closed.")
            % {"number": duplicate.number},
            **typed,
        )
    try:
        survivor = merge.merge(
            duplicate=duplicate, survivor=survivor, actor=request.user, note=note
        )
    except PermissionDenied as exc:
        return _refused(request, duplicate, _why(exc), status=403, **typed)
    except ValidationError as exc:
        return _refused(request, duplicate, _why(exc), **typed)
    messages.success(
        request,
        _("%(duplicate)s was merged into %(survivor)s and closed.")
        % {"duplicate": duplicate.number, "survivor": survivor.number},
    )
    return redirect("console:ticket", number=survivor.number)
