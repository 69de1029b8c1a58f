"""One change for many requests at once, made request by request.

Each ticked request is looked up as the user may see it and changed through the same
service (and so the same permission, visibility and workflow checks) as on its own page,
each in its own transaction: one refusal does not undo the others, and each outcome is
reported on its own line when the queue comes back with its filters.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from aftercare.accounts.models import User
from aftercare.accounts.querysets import agents
from aftercare.console.forms import BulkForm
from aftercare.console.views.common import _safe_next, agent_required
from aftercare.desk import services, workflow
from aftercare.desk.models import Level, Priority, Status, Ticket
from aftercare.desk.querysets import get_ticket_for_user


def _refusal(exc: Exception) -> str:
    if isinstance(exc, workflow.TransitionError):
        return str(exc.message)
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or _("You may not do that.")


def _apply(request: HttpRequest, ticket: Ticket, data: dict, assignee: User | None) -> str:
    """Make the change to one request; return what happened, in words."""
    actor, action = request.user, data["action"]
    if action == "assign":
        services.assign(ticket=ticket, actor=actor, assignee=assignee)
        if assignee is None:
            return _("unassigned")
        return _("assigned to %(name)s") % {"name": assignee.display_name}
    if action == "status":
        services.transition(
            ticket=ticket, actor=actor, target=data["target"], reason=data["reason"]
        )
        return _("moved to “%(status)s”") % {"status": Status(data["target"]).label}
    if action == "priority":
        services.reprioritise(
            ticket=ticket, actor=actor, priority=data["priority"], reason=data["reason"]
        )
        return _("priority “%(priority)s”") % {"priority": Priority(data["priority"]).label}
    if action == "level":
        services.set_level(ticket=ticket, actor=actor, level=data["level"], note=data["reason"])
        return _("now at %(level)s") % {"level": Level(data["level"]).label}
    names = services.clean_tag_names(data["tags"])
    current = list(ticket.tags.values_list("name", flat=True))
    if action == "tags_add":
        wanted = current + [n for n in names if n not in current]
    else:
        wanted = [n for n in current if n not in names]
    # The tags were read outside the lock: a change made meanwhile is refused, not lost.
    services.set_tags(ticket=ticket, actor=actor, names=wanted, expected_version=ticket.version)
    return _("tags: %(tags)s") % {"tags": ", ".join(sorted(wanted)) or "—"}


@agent_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    back = _safe_next(request) or reverse("console:queue")
    form = BulkForm(request.POST, agents=agents())
    if not form.is_valid():
        for name, errors in form.errors.items():
            label = form.fields[name].label if name in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
        return redirect(back)
    data = form.cleaned_data
    assignee = None
    if data["action"] == "assign" and data["assignee"] != "none":
        assignee = User.objects.get(pk=int(data["assignee"]))
    if data["action"] in ("tags_add", "tags_remove"):
        try:
            services.clean_tag_names(data["tags"])
        except ValidationError as exc:
            messages.error(request, _refusal(exc))
            return redirect(back)
    done = refused = same = 0
    lines: list[tuple[int, str]] = []
    for number in data["tickets"]:
        try:
            ticket = get_ticket_for_user(request.permset, number, lookup="number")
        except Http404:
            # Not there, or not the user's to see: the same answer either way.
            refused += 1
            lines.append(
                (messages.ERROR, _("%(number)s: refused — no such request.") % {"number": number})
            )
            continue
        version = ticket.version
        try:
            outcome = _apply(request, ticket, data, assignee)
        except (
            ValidationError,
            PermissionDenied,
            services.ConflictError,
            workflow.TransitionError,
        ) as exc:
            refused += 1
            reason = _refusal(exc)
            lines.append(
                (
                    messages.ERROR,
                    _("%(number)s: refused — %(reason)s")
                    % {"number": ticket.number, "reason": reason},
                )
            )
            continue
        if Ticket.objects.filter(pk=ticket.pk, version=version).exists():
            same += 1
            lines.append((messages.INFO, _("%(number)s: unchanged") % {"number": ticket.number}))
        else:
            done += 1
            lines.append(
                (
                    messages.SUCCESS,
                    _("%(number)s: %(outcome)s") % {"number": ticket.number, "outcome": outcome},
                )
            )
    messages.add_message(
        request,
        messages.WARNING if refused else messages.SUCCESS,
        _("Changed: %(done)d. Refused: %(refused)d. Unchanged: %(same)d.")
        % {"done": done, "refused": refused, "same": same},
    )
    for level, line in lines:
        messages.add_message(request, level, line)
    return redirect(back)
