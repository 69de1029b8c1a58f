"""The request page: one ticket, its timeline and the actions on it."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.querysets import agents, consultants
from aftercare.console.forms import (
    AssignForm,
    ClassifyForm,
    EscalateForm,
    PriorityForm,
)
from aftercare.console.request_forms import ComposerForm, PropertiesForm, TimeEntryForm
from aftercare.console.views.common import _attach_errors, _safe_next, agent_required
from aftercare.desk import approvals, services, workflow
from aftercare.desk import canned as canned_answers
from aftercare.desk.forms import ApprovalRequestForm, ReplyForm, TransitionForm
from aftercare.desk.models import Approval, Channel, Event, Level, Message, Status, Ticket
from aftercare.desk.querysets import get_ticket_for_user
from aftercare.desk.timeline import build_timeline
from aftercare.sla import services as sla_services
from aftercare.tenancy.models import System
from aftercare.timetracking import reports as time_reports
from aftercare.timetracking import services as time_services


def _acknowledgement_applies(ticket: Ticket, clocks: list[dict]) -> bool:
    """Offer "Acknowledge" only while it means something: the first-response clock runs,
    nobody acknowledged yet and the desk has not already answered the customer."""
    if not any(c["clock"].metric == "first_response" and c["clock"].is_active for c in clocks):
        return False
    answered = (
        Event.objects.filter(ticket=ticket, action="desk.ticket.acknowledged").exists()
        or Message.objects.filter(
            ticket=ticket, kind=Message.Kind.PUBLIC, author__in=agents()
        ).exists()
    )
    return not answered


def _ticket_context(request: HttpRequest, ticket: Ticket, **forms) -> dict:
    permset = request.permset
    roles = permset.ticket_roles(ticket)
    rules = workflow.allowed_transitions(ticket.status, roles)
    version = {"version": ticket.version}
    may_note = permset.has("desk.add_internal_note")
    clocks = sla_services.panel(ticket)
    approvals_list = list(
        ticket.approvals.select_related("decided_by", "requested_by").order_by("-requested_at")
    )
    timeline = build_timeline(permset, ticket)
    opening = next((e for e in timeline if e.opening), None)
    language = get_language() or ""
    canned = sorted(
        canned_answers.offered_to(request.user).values("pk", "title", "language"),
        key=lambda a: (a["language"] not in ("", language), a["title"].lower()),
    )
    return {
        "ticket": ticket,
        "approvals": approvals_list,
        "show_approvals": bool(approvals_list)
        or (ticket.is_open and permset.has("desk.request_approval")),
        "approval_form": forms.get("approval") or ApprovalRequestForm(),
        "timeline": timeline,
        "opening": opening,
        "composer": forms.get("compose")
        or ComposerForm(rules=rules, may_note=may_note, initial=version),
        "time_panel": _time_panel(request, ticket, forms.get("time")),
        "properties": forms.get("properties") or PropertiesForm(ticket=ticket, permset=permset),
        "rules": rules,
        "canned_answers": canned,
        "max_attachment_bytes": settings.AFTERCARE_MAX_ATTACHMENT_BYTES,
        "max_attachments": settings.AFTERCARE_MAX_ATTACHMENTS_PER_MESSAGE,
        "nav": "queue",
        "sla_clocks": clocks,
        "sla_extension_form": _extension_form(request, ticket),
        "can_acknowledge": _acknowledgement_applies(ticket, clocks),
    }


def _extension_form(request: HttpRequest, ticket: Ticket):
    from aftercare.console.views.sla_extend import extension_form

    return extension_form(ticket) if request.permset.is_agent else None


def _time_panel(request: HttpRequest, ticket: Ticket, form=None) -> dict:
    """The sidebar's time panel: totals, the last entries, which of them this agent may
    correct, and the "Add time" form (bound when it is re-shown with an error)."""
    permset = request.permset
    editing = getattr(form, "entry_id", None)
    summary = time_reports.ticket_summary(ticket.pk)
    others = time_services.may_correct_others(permset)
    may_record = time_services.may_record(permset, ticket)
    for entry in summary["entries"]:
        entry.editable = may_record and (others or entry.user_id == request.user.pk)
        entry.hm = time_reports.hours_minutes(entry.minutes)
    return {
        **summary,
        "may_record": may_record,
        # A refused correction is re-shown under its entry; the "Add time" form stays empty.
        "form": form if form is not None and not editing else TimeEntryForm(),
        "edit_form": form if editing else None,
        "edit_error_id": editing,
    }


ACTIONS = (
    "compose",
    "properties",
    "reply",
    "transition",
    "assign",
    "escalate",
    "priority",
    "classify",
    "acknowledge",
    "approval",
    "withdraw_approval",
    "undo_approval",
)


@agent_required
def ticket_detail(request: HttpRequest, number: str) -> HttpResponse:
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    if request.method != "POST":
        return render(request, "console/ticket.html", _ticket_context(request, ticket))
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        messages.error(request, _("Unknown action."))
        return redirect("console:ticket", number=ticket.number)
    if action == "compose":
        form, done = _compose(request, ticket)
    elif action == "properties":
        form, done = _save_properties(request, ticket)
    else:
        # The separate actions (board, API-like posts, older pages) stay accepted; their
        # forms are no longer on the page, so their errors are also reported as messages.
        form, done = _perform(request, ticket, action, report=True)
    if done:
        return redirect(
            _safe_next(request) or reverse("console:ticket", kwargs={"number": ticket.number})
        )
    ticket.refresh_from_db()
    context = _ticket_context(request, ticket, **{action: form})
    if action not in ("compose", "properties"):
        context[f"{action}_form"] = form
    return render(request, "console/ticket.html", context, status=400)


def _refuse(request: HttpRequest, form, text: str):
    """A refusal of the whole form: above the form and as a message; (form, not done)."""
    form.add_error(None, text)
    messages.error(request, text)
    return form, False


class _PriorityRefused(Exception):
    """The canned answer's priority change was refused: the whole send is refused."""


@services._removes_files_on_failure  # noqa: SLF001 - one transaction around several services
@transaction.atomic
def _reply_then_move(
    *, ticket: Ticket, actor: User, data: dict, version: int | None
) -> tuple[Message, Ticket]:
    """The composer's one submit: the message, the canned answer's priority, the move and
    the time spent, or none of them.

    Every service joins this transaction, so a refused step rolls the message back too (and
    the outer wrapper deletes its files); nothing is sent, nothing half-done remains.
    """
    target = data.get("then") or ""
    answer = data.get("canned_answer")
    if target or answer:
        ticket = services._lock(ticket, version)  # noqa: SLF001 - the lock the services take
    message = services.reply(
        ticket=ticket,
        actor=actor,
        body=data["body"],
        internal=data["mode"] == "note",
        attachments=data["files"],
        channel=Channel.CONSOLE,
    )
    if answer is not None and answer.set_priority:
        try:
            ticket = services.reprioritise(
                ticket=ticket,
                actor=actor,
                priority=answer.set_priority,
                reason=_("Canned answer: %(title)s") % {"title": answer.title},
            )
        except PermissionDenied as exc:
            raise _PriorityRefused(str(exc)) from exc
    if target:
        ticket = services.transition(
            ticket=ticket, actor=actor, target=target, reason=data.get("reason") or ""
        )
    if data.get("time_spent"):
        try:
            time_services.record(
                ticket=ticket, actor=actor, minutes=data["time_spent"], message=message
            )
        except ValidationError as exc:
            raise ValidationError({"time_spent": exc.messages}) from exc
    return message, ticket


def _compose(request: HttpRequest, ticket: Ticket):
    permset = request.permset
    rules = workflow.allowed_transitions(ticket.status, permset.ticket_roles(ticket))
    form = ComposerForm(
        request.POST,
        request.FILES,
        rules=rules,
        may_note=permset.has("desk.add_internal_note"),
        canned_answers=canned_answers.offered_to(request.user),
    )
    if not form.is_valid():
        if "then" in form.errors:
            messages.error(request, _("That move is not available for this request."))
        return form, False
    data = form.cleaned_data
    try:
        _reply_then_move(ticket=ticket, actor=request.user, data=data, version=data.get("version"))
    except workflow.TransitionError as exc:
        form.add_error("reason" if data.get("then") else None, exc.message)
        messages.error(
            request,
            _("Nothing was sent: the move was refused. %(why)s") % {"why": exc.message},
        )
        return form, False
    except _PriorityRefused as exc:
        return _refuse(
            request,
            form,
            _(
                "Nothing was sent: the canned answer “%(title)s” also sets the priority, "
                "and that was refused (%(why)s). Remove the priority change and send again."
            )
            % {"title": data["canned_answer"].title, "why": str(exc)},
        )
    except services.ConflictError as exc:
        return _refuse(request, form, str(exc))
    except ValidationError as exc:
        _attach_errors(form, exc)
        return form, False
    except PermissionDenied as exc:
        return _refuse(request, form, str(exc) or _("You may not do that."))
    note = data["mode"] == "note"
    sent = _("Internal note added.") if note else _("Reply sent.")
    if data.get("canned_answer") is not None:
        sent = _("%(sent)s Priority set to “%(priority)s”.") % {
            "sent": sent,
            "priority": data["canned_answer"].get_set_priority_display(),
        }
    if data.get("then"):
        sent = _("%(sent)s %(number)s moved to “%(status)s”.") % {
            "sent": sent,
            "number": ticket.number,
            "status": Status(data["then"]).label,
        }
    if data.get("time_spent"):
        sent = _("%(sent)s %(time)s recorded.") % {
            "sent": sent,
            "time": time_reports.hours_minutes(data["time_spent"]),
        }
    messages.success(request, sent)
    return form, True


class _Refused(Exception):
    """Raised inside the properties transaction so that nothing of it is kept."""


# Which form field a service's error belongs to.
_ERROR_FIELDS = {
    "assignee": "assignee",
    "system": "system",
    "category": "category",
    "priority": "priority",
    "tags": "tags",
}


def _save_properties(request: HttpRequest, ticket: Ticket):
    """Apply the changed properties through their services, all or nothing."""
    permset, user = request.permset, request.user
    form = PropertiesForm(request.POST, ticket=ticket, permset=permset)
    posted = request.POST.get("version", "")
    if posted.isdigit() and int(posted) != ticket.version:
        # Compared with a newer request every field looks "changed": say what happened.
        form.is_valid()
        return _refuse(request, form, str(services.ConflictError.for_ticket(ticket)))
    if not form.is_valid():
        return form, False
    data = form.cleaned_data
    changed = form.changed_fields()
    if not changed:
        messages.info(request, _("Nothing was changed."))
        return form, True
    errors: dict[str, list[str]] = {}

    def attempt(field: str, call) -> None:
        try:
            call()
        except workflow.TransitionError as exc:
            errors.setdefault(field, []).append(str(exc.message))
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for name, errs in exc.error_dict.items():
                    target = {"reason": f"{field}_reason"}.get(name, _ERROR_FIELDS.get(name, field))
                    for e in errs:
                        errors.setdefault(target, []).extend(e.messages)
            else:
                errors.setdefault(field, []).extend(exc.messages)
        except PermissionDenied as exc:
            errors.setdefault(field, []).append(str(exc) or str(_("You may not do that.")))

    try:
        with transaction.atomic():
            current = services._lock(ticket, data.get("version"))  # noqa: SLF001
            if "category" in changed or "system" in changed:
                system = (
                    System.objects.filter(
                        pk=data["system"], organisation_id=ticket.organisation_id
                    ).first()
                    if data.get("system")
                    else None
                )
                if "system" in changed and system is None:
                    errors.setdefault("system", []).append(
                        str(
                            _("This system belongs to another organisation.")
                            if data.get("system")
                            else _("A request's system can be changed but not removed.")
                        )
                    )
                attempt(
                    "category",
                    lambda: services.classify(
                        ticket=current,
                        actor=user,
                        category=data["category"] if "category" in changed else None,
                        system=system,
                    ),
                )
            if "priority" in changed:
                attempt(
                    "priority",
                    lambda: services.reprioritise(
                        ticket=current,
                        actor=user,
                        priority=data["priority"],
                        reason=data.get("priority_reason") or "",
                    ),
                )
            if "level" in changed:
                if data["level"] == Level.L2:
                    attempt(
                        "level",
                        lambda: services.escalate(
                            ticket=current, actor=user, note=data.get("level_note") or ""
                        ),
                    )
                else:
                    errors.setdefault("level", []).append(
                        str(_("A request cannot be handed back to L1 here."))
                    )
            if "assignee" in changed:
                assignee = User.objects.filter(pk=data["assignee"]).first()
                attempt(
                    "assignee",
                    lambda: services.assign(ticket=current, actor=user, assignee=assignee),
                )
            if "tags" in changed:
                attempt(
                    "tags",
                    lambda: services.set_tags(ticket=current, actor=user, names=data["tags"]),
                )
            if "status" in changed:
                attempt(
                    "status",
                    lambda: services.transition(
                        ticket=current,
                        actor=user,
                        target=data["status"],
                        reason=data.get("status_reason") or "",
                    ),
                )
            if errors:
                raise _Refused
    except _Refused:
        for name, errs in errors.items():
            for e in errs:
                form.add_error(name if name in form.fields else None, e)
        messages.error(request, _("Nothing was saved; see the marked fields."))
        return form, False
    except services.ConflictError as exc:
        return _refuse(request, form, str(exc))
    messages.success(request, _("Saved."))
    return form, True


def _perform(request: HttpRequest, ticket: Ticket, action: str, *, report: bool = False):
    """Run one action; return (bound form, success). Errors are attached to the form.

    Refusals (workflow, conflicts, permissions) are also reported as messages; with
    ``report`` every form error is, for pages that do not show the form (the board).
    """
    user = request.user
    post, files = request.POST, request.FILES
    roles = request.permset.ticket_roles(ticket)
    if action == "acknowledge":
        try:
            services.acknowledge(ticket=ticket, actor=user)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
            return ReplyForm(), False
        messages.success(request, _("Receipt acknowledged."))
        return None, True
    if action in ("approval", "withdraw_approval", "undo_approval"):
        return _approval_action(request, ticket, action)
    if action == "reply":
        form = ReplyForm(post, files)
    elif action == "transition":
        form = TransitionForm(
            post, rules=workflow.allowed_transitions(ticket.status, roles), staff=True
        )
    elif action == "assign":
        form = AssignForm(post)
        form.fields["assignee"].choices = [("", "")] + [(a.pk, a.pk) for a in agents()]
    elif action == "escalate":
        form = EscalateForm(post)
        form.fields["consultant"].choices = [("", "")] + [(c.pk, c.pk) for c in consultants()]
    elif action == "priority":
        form = PriorityForm(post)
    else:
        form = ClassifyForm(post)
        form.fields["system"].choices = [("", "")] + [
            (s.pk, s.pk) for s in System.objects.filter(organisation_id=ticket.organisation_id)
        ]
    if not form.is_valid():
        if action == "transition" and "target" in form.errors:
            messages.error(request, _("That move is not available for this request."))
        if report:
            for name, errors in form.errors.items():
                if name != "target":
                    for error in errors:
                        messages.error(request, f"{ticket.number}: {error}")
        return form, False
    data = form.cleaned_data
    version = data.get("version")
    try:
        if action == "reply":
            services.reply(
                ticket=ticket,
                actor=user,
                body=data["body"],
                internal=data["internal"],
                attachments=data["files"],
                channel=Channel.CONSOLE,
            )
            messages.success(
                request, _("Internal note added.") if data["internal"] else _("Reply sent.")
            )
        elif action == "transition":
            services.transition(
                ticket=ticket,
                actor=user,
                target=data["target"],
                reason=data["reason"],
                expected_version=version,
            )
            messages.success(
                request,
                _("%(number)s moved to “%(status)s”.")
                % {"number": ticket.number, "status": Status(data["target"]).label},
            )
        elif action == "assign":
            assignee = User.objects.get(pk=data["assignee"]) if data["assignee"] else None
            services.assign(ticket=ticket, actor=user, assignee=assignee, expected_version=version)
            messages.success(request, _("Assignment saved."))
        elif action == "escalate":
            consultant = User.objects.get(pk=data["consultant"]) if data["consultant"] else None
            services.escalate(
                ticket=ticket,
                actor=user,
                note=data["note"],
                assignee=consultant,
                expected_version=version,
            )
            messages.success(request, _("Escalated to L2."))
        elif action == "priority":
            services.reprioritise(
                ticket=ticket,
                actor=user,
                priority=data["priority"],
                reason=data["reason"],
                expected_version=version,
            )
            messages.success(request, _("Priority changed."))
        else:
            system = System.objects.get(pk=data["system"]) if data["system"] else None
            services.classify(
                ticket=ticket,
                actor=user,
                category=data["category"],
                system=system,
                subject=data["subject"],
                expected_version=version,
            )
            messages.success(request, _("Classification saved."))
    except workflow.TransitionError as exc:
        form.add_error(None, exc.message)
        messages.error(request, exc.message)
        return form, False
    except services.ConflictError as exc:
        return _refuse(request, form, str(exc))
    except ValidationError as exc:
        if action == "escalate" and hasattr(exc, "error_dict") and "assignee" in exc.error_dict:
            exc = ValidationError({"consultant": exc.error_dict["assignee"]})
        _attach_errors(form, exc)
        if report:
            for message in exc.messages:
                messages.error(request, f"{ticket.number}: {message}")
        return form, False
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not do that."))
        return form, False
    return form, True


def _approval_action(request: HttpRequest, ticket: Ticket, action: str):
    if action in ("undo_approval", "withdraw_approval"):
        return _answer_approval(request, ticket, action)
    form = ApprovalRequestForm(request.POST)
    if not form.is_valid():
        return form, False
    try:
        approvals.request(
            ticket=ticket,
            actor=request.user,
            action=form.cleaned_data["action_text"],
            target_status=form.cleaned_data["target_status"],
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "action" in exc.error_dict:
            exc = ValidationError({"action_text": exc.error_dict["action"]})
        _attach_errors(form, exc)
        return form, False
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return form, False
    messages.success(request, _("Approval requested; the customer's coordinators were e-mailed."))
    return form, True


def _answer_approval(request: HttpRequest, ticket: Ticket, action: str):
    """Withdraw a pending approval, or take back an answered one (with a reason)."""
    approval = Approval.objects.filter(ticket=ticket, pk=request.POST.get("approval") or 0).first()
    if approval is None:
        messages.error(request, _("Unknown approval."))
        return None, False
    try:
        if action == "undo_approval":
            approvals.undo_decision(
                approval=approval, actor=request.user, reason=request.POST.get("reason", "")
            )
            done = _("The answer was taken back; the customer is asked again.")
        else:
            approvals.withdraw(approval=approval, actor=request.user)
            done = _("The approval request was withdrawn.")
    except approvals.ApprovalError as exc:
        messages.error(request, exc.message)
        return None, False
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return None, False
    messages.success(request, done)
    return None, True
