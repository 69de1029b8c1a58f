"""The request page: one ticket, its timeline and the actions on it."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.querysets import agents, agents_seeing, consultants, consultants_seeing
from aftercare.console.forms import (
    AssignForm,
    ClassifyForm,
    EscalateForm,
    PriorityForm,
)
from aftercare.console.views.common import _attach_errors, _safe_next, agent_required
from aftercare.desk import approvals, services, workflow
from aftercare.desk.forms import ApprovalRequestForm, ReplyForm, TransitionForm
from aftercare.desk.models import Approval, Channel, Status, Ticket
from aftercare.desk.querysets import get_ticket_for_user
from aftercare.desk.timeline import build_timeline
from aftercare.sla import services as sla_services
from aftercare.tenancy.models import System


def _ticket_context(request: HttpRequest, ticket: Ticket, **forms) -> dict:
    permset = request.permset
    roles = permset.ticket_roles(ticket)
    rules = workflow.allowed_transitions(ticket.status, roles)
    version = {"version": ticket.version}
    systems = System.objects.filter(organisation_id=ticket.organisation_id)
    assign_form = forms.get("assign") or AssignForm(
        initial={"assignee": ticket.assignee_id, **version}
    )
    # Only staff who may see this customer's requests are offered (desk.services.assign
    # refuses the others; the forms below still accept any id so its message is shown).
    assign_form.fields["assignee"].choices = [
        ("", _("Nobody")),
        *((a.pk, a.display_name) for a in agents_seeing(ticket.organisation_id)),
    ]
    escalate_form = forms.get("escalate") or EscalateForm(initial=version)
    escalate_form.fields["consultant"].choices = [
        ("", _("Any consultant")),
        *((c.pk, c.display_name) for c in consultants_seeing(ticket.organisation_id)),
    ]
    clocks = sla_services.panel(ticket)
    classify_form = forms.get("classify") or ClassifyForm(
        initial={
            "category": ticket.category,
            "system": ticket.system_id,
            "subject": ticket.subject,
            **version,
        }
    )
    classify_form.fields["system"].choices = [("", "—"), *((s.pk, str(s)) for s in systems)]
    return {
        "ticket": ticket,
        "approvals": ticket.approvals.select_related("decided_by", "requested_by").order_by(
            "-requested_at"
        ),
        "approval_form": forms.get("approval") or ApprovalRequestForm(),
        "timeline": build_timeline(permset, ticket),
        "reply_form": forms.get("reply") or ReplyForm(),
        "transition_form": forms.get("transition")
        or TransitionForm(rules=rules, initial=version, staff=True),
        "rules": rules,
        "assign_form": assign_form,
        "escalate_form": escalate_form,
        "priority_form": forms.get("priority")
        or PriorityForm(initial={"priority": ticket.priority, **version}),
        "classify_form": classify_form,
        "nav": "queue",
        "sla_clocks": clocks,
        "can_acknowledge": any(
            c["clock"].metric == "first_response" and c["clock"].is_active for c in clocks
        ),
    }


ACTIONS = (
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
    form, done = _perform(request, ticket, action)
    if done:
        return redirect(
            _safe_next(request) or reverse("console:ticket", kwargs={"number": ticket.number})
        )
    ticket.refresh_from_db()
    context = _ticket_context(request, ticket, **{action: form})
    return render(request, "console/ticket.html", context, status=400)


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
        form.add_error(None, str(exc))
        messages.error(request, str(exc))
        return form, False
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
