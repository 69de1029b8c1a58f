"""Customer pages: my requests, file a request, follow it, accept or reopen."""

from __future__ import annotations

from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftercare.desk import approvals, merge, services, workflow
from aftercare.desk.forms import ReplyForm, RequestForm, TransitionForm
from aftercare.desk.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    Approval,
    Channel,
    Status,
    Ticket,
)
from aftercare.desk.querysets import get_ticket_for_user, visible_tickets
from aftercare.desk.timeline import build_timeline
from aftercare.lib.keyset import paginate
from aftercare.portal import approvals_page, status_help
from aftercare.tenancy.models import System
from aftercare.tenancy.querysets import visible_organisations


def customer_required(view):
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if request.permset.is_agent:
            # Staff work in the console; send them to the same place there.
            if "number" in kwargs:
                return redirect("console:ticket", number=kwargs["number"])
            return redirect("console:queue")
        return view(request, *args, **kwargs)

    return wrapper


STATUS_TABS = {
    "open": (gettext_lazy("Open"), [*OPEN_STATUSES, Status.RELEASED]),
    "closed": (gettext_lazy("Closed"), list(CLOSED_STATUSES)),
    "all": (gettext_lazy("All"), None),
}


@customer_required
def request_list(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab", "open")
    if tab not in STATUS_TABS:
        tab = "open"
    qs = visible_tickets(request.permset).select_related("organisation", "reporter")
    statuses = STATUS_TABS[tab][1]
    if statuses:
        qs = qs.filter(status__in=statuses)
    page = paginate(
        qs,
        "updated_at",
        descending=True,
        size=settings.AFTERCARE_QUEUE_PAGE_SIZE,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
    )
    return render(
        request,
        "portal/list.html",
        {
            "page": page,
            "tab": tab,
            "tabs": [(k, v[0]) for k, v in STATUS_TABS.items()],
            "is_coordinator": bool(request.permset.coordinator_of),
            "many_orgs": len(request.permset.memberships) > 1,
        },
    )


class PortalRequestForm(RequestForm):
    organisation = forms.TypedChoiceField(label=gettext_lazy("Organisation"), coerce=int)
    field_order = ["organisation"]


@customer_required
def request_new(request: HttpRequest) -> HttpResponse:
    organisations = list(visible_organisations(request.permset).filter(is_active=True))
    if not organisations:
        raise PermissionDenied(_("Your account is not linked to a customer organisation."))
    form = PortalRequestForm(
        request.POST or None, request.FILES or None, initial={"organisation": organisations[0].pk}
    )
    form.fields["organisation"].choices = [(o.pk, o.name) for o in organisations]
    if len(organisations) == 1:
        form.fields["organisation"].widget = forms.HiddenInput()
    systems = list(
        System.objects.filter(organisation__in=organisations).select_related("organisation")
    )
    form.fields["system"].choices = [
        ("", _("— not sure —")),
        *(
            (s.pk, f"{s.organisation.name} — {s}" if len(organisations) > 1 else str(s))
            for s in systems
        ),
    ]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        org = next(o for o in organisations if o.pk == data["organisation"])
        system = next((s for s in systems if str(s.pk) == data["system"]), None)
        try:
            ticket = services.open_ticket(
                actor=request.user,
                organisation=org,
                subject=data["subject"],
                description=data["description"],
                conditions=data["conditions"],
                category=data["category"],
                priority=data["priority"],
                system=system,
                channel=Channel.PORTAL,
                attachments=data["files"],
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.error_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc.messages)
        else:
            messages.success(
                request,
                _("Thank you. Your request %(number)s was registered.") % {"number": ticket.number},
            )
            return redirect("portal:detail", number=ticket.number)
    return render(
        request, "portal/new.html", {"form": form}, status=400 if request.method == "POST" else 200
    )


@customer_required
def request_detail(request: HttpRequest, number: str) -> HttpResponse:
    permset = request.permset
    ticket = get_ticket_for_user(permset, number, lookup="number")
    rules = workflow.allowed_transitions(ticket.status, permset.ticket_roles(ticket))
    reply_form = ReplyForm()
    transition_form = TransitionForm(rules=rules, initial={"version": ticket.version})
    accept_rule, reopen_rule, other_rules = _decision_rules(ticket, rules)
    reopen_targets = {r.target for r in rules if r.reason_required}
    reopening = False
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "reply":
                reply_form = ReplyForm(request.POST, request.FILES)
                if reply_form.is_valid():
                    if ticket.merged_into_id:  # the conversation goes on in the survivor
                        raise ValidationError(
                            _("This request was merged into another; please reply there.")
                        )
                    services.reply(
                        ticket=ticket,
                        actor=request.user,
                        body=reply_form.cleaned_data["body"],
                        internal=False,
                        attachments=reply_form.cleaned_data["files"],
                    )
                    messages.success(request, _("Your message was sent."))
                    return redirect("portal:detail", number=ticket.number)
            elif action == "transition":
                transition_form = TransitionForm(request.POST, rules=rules)
                reopening = request.POST.get("target") in reopen_targets
                if transition_form.is_valid():
                    data = transition_form.cleaned_data
                    services.transition(
                        ticket=ticket,
                        actor=request.user,
                        target=data["target"],
                        reason=data["reason"],
                        expected_version=data.get("version"),
                    )
                    messages.success(request, _("Thank you, your decision was recorded."))
                    return redirect("portal:detail", number=ticket.number)
                messages.error(request, _("That action is not available for this request."))
            elif action in ("approve", "decline"):
                approval = Approval.objects.filter(
                    ticket=ticket, pk=request.POST.get("approval") or 0
                ).first()
                if approval is None:
                    messages.error(request, _("Unknown approval."))
                else:
                    _answer(request, approval, approve=action == "approve")
                    return redirect("portal:detail", number=ticket.number)
            else:
                messages.error(request, _("Unknown action."))
        except approvals.ApprovalError as exc:
            messages.error(request, exc.message)
        except workflow.TransitionError as exc:
            transition_form.add_error(None, exc.message)
        except services.ConflictError as exc:
            transition_form.add_error(None, str(exc))
        except ValidationError as exc:
            target = reply_form if action == "reply" else transition_form
            target.add_error(None, exc.messages)
            # The form may not be on the page any more (an archived request has no reply
            # box), so say it where it is always seen too.
            for message in exc.messages:
                messages.error(request, message)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        status = 400
        ticket.refresh_from_db()
    return render(
        request,
        "portal/detail.html",
        {
            "ticket": ticket,
            "merged_into": merge.visible_survivor(permset, ticket),
            "timeline": build_timeline(permset, ticket),
            "rules": rules,
            "accept_rule": accept_rule,
            "reopen_rule": reopen_rule,
            "other_rules": other_rules,
            "reopening": reopening,
            "status_text": status_help.explain(ticket.status, ticket.category),
            "reply_form": reply_form,
            "transition_form": transition_form,
            "can_reply": ticket.status != Status.ARCHIVED and not ticket.merged_into_id,
            "approvals": ticket.approvals.select_related("decided_by", "requested_by").order_by(
                "-requested_at"
            ),
            "can_decide": approvals.may_decide(request.user, ticket),
        },
        status=status,
    )


def _decision_rules(
    ticket: Ticket, rules: list[workflow.Rule]
) -> tuple[workflow.Rule | None, workflow.Rule | None, list[workflow.Rule]]:
    """Split the customer's moves into the two big buttons and the rest.

    Released: "Accept the solution" is the move to Archived, "Still a problem — reopen"
    the move back to In progress (a reason is required by the workflow). Any other move the
    table offers the customer stays in the plain form below, so nothing is hidden.
    """
    accept = next((r for r in rules if r.target == Status.ARCHIVED), None)
    reopen = next((r for r in rules if r.target == Status.IN_PROGRESS and r.reason_required), None)
    if ticket.status != Status.RELEASED or accept is None or reopen is None:
        return None, None, rules
    # "Reopen into sprint" is the desk's planning choice, not the customer's: the customer
    # says "still a problem", the desk plans it.
    others = [r for r in rules if r not in (accept, reopen) and r.target != Status.SPRINT]
    return accept, reopen, others


def _answer(request: HttpRequest, approval: Approval, *, approve: bool) -> None:
    """Approve or decline in the portal; ``approvals.decide`` checks who may."""
    approvals.decide(
        approval=approval,
        user=request.user,
        approve=approve,
        via=Approval.Via.PORTAL,
        note=request.POST.get("note", "")[:2000],
    )
    if approve:
        messages.success(
            request, _("Thank you, you approved: %(action)s") % {"action": approval.action[:160]}
        )
    else:
        messages.success(
            request, _("Thank you, you declined: %(action)s") % {"action": approval.action[:160]}
        )


@customer_required
def approval_list(request: HttpRequest) -> HttpResponse:
    """What awaits the coordinator's answer, then what was answered recently."""
    permset = request.permset
    if request.method == "POST":
        action = request.POST.get("action")
        pk = request.POST.get("approval", "")
        approval = (
            approvals_page.visible(permset).filter(pk=int(pk)).first()
            if action in ("approve", "decline") and pk.isdigit()
            else None
        )
        if approval is None:
            messages.error(request, _("Unknown approval."))
        else:
            try:
                _answer(request, approval, approve=action == "approve")
            except approvals.ApprovalError as exc:
                messages.error(request, exc.message)
            except PermissionDenied as exc:
                messages.error(request, str(exc))
        return redirect("portal:approvals")
    pending, answered = approvals_page.listing(permset)
    return render(
        request,
        "portal/approvals.html",
        {
            "pending": pending,
            "answered": answered,
            "decidable": approvals_page.decidable(permset, pending),
            "many_orgs": len(permset.memberships) > 1,
            "recent_days": approvals_page.RECENT_DAYS,
        },
    )


@customer_required
def reports(request: HttpRequest) -> HttpResponse:
    """The coordinator's view of the same SLA report, restricted to their organisations."""
    from aftercare.sla import presentation
    from aftercare.sla import reports as sla_reports
    from aftercare.sla.models import SlaClock

    coordinated = sorted(request.permset.coordinator_of)
    if not coordinated:
        raise PermissionDenied(_("Reports are available to your organisation's coordinator."))
    start, end = sla_reports.period_from(request.GET)
    tickets = visible_tickets(request.permset).filter(organisation_id__in=coordinated)
    clocks = SlaClock.objects.filter(organisation_id__in=coordinated)
    report = sla_reports.build(tickets, clocks, start, end)
    return presentation.respond(request, "portal/reports.html", report)
