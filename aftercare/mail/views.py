"""Approval links from e-mails (no sign-in needed: the link is the credential), and the
console's mail pages: triage of held messages and the log of mail in and out."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from aftercare.console.views import agent_required
from aftercare.desk import approvals
from aftercare.desk.models import Category, Ticket
from aftercare.desk.querysets import get_ticket_for_user
from aftercare.mail import ingest, outbound
from aftercare.mail.models import InboundMessage, OutboundMail
from aftercare.tenancy.querysets import visible_organisations
from aftercare.tenancy.scoping import system_scope

Outcome = InboundMessage.Outcome


@never_cache
def approval(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the question (mail scanners open links: nothing changes on GET);
    POST records the decision once."""
    with system_scope():
        try:
            link = approvals.link_for_token(token)
        except approvals.ApprovalError as exc:
            return render(request, "mail/approval.html", {"error": exc.message}, status=404)
        approval_row = link.approval
        context = {
            "approval": approval_row,
            "ticket": approval_row.ticket,
            "person": link.user,
            "choice": request.GET.get("d", ""),
            "used": link.used_at is not None,
        }
        if request.method == "POST":
            decision = request.POST.get("decision")
            if decision not in ("approve", "decline"):
                context["error"] = _("Choose approve or decline.")
                return render(request, "mail/approval.html", context, status=400)
            try:
                approvals.decide_by_token(
                    token=token,
                    approve=decision == "approve",
                    note=request.POST.get("note", "")[:2000],
                )
            except (approvals.ApprovalError, PermissionDenied) as exc:
                context["error"] = getattr(exc, "message", None) or str(exc)
                return render(request, "mail/approval.html", context, status=409)
            approval_row.refresh_from_db()
            context.update(done=True, used=True)
        return render(request, "mail/approval.html", context)


def _triage_allowed(request: HttpRequest) -> None:
    if request.permset.organisation_scope is not None:
        # Held mail has no organisation yet: only agents who serve every customer see it;
        # to the others it does not exist (asked first, so that whether a row exists is
        # not told apart from whether the role may triage).
        raise Http404(_("Mail triage is for agents who serve every customer."))
    if not request.permset.has("mail.triage_mail"):
        raise PermissionDenied(_("You may not handle mail in triage."))


@agent_required
def mail_log(request: HttpRequest) -> HttpResponse:
    _triage_allowed(request)
    show = request.GET.get("show", "triage")
    with system_scope():
        if show == "outbound":
            rows = OutboundMail.objects.select_related("ticket").order_by("-created_at", "-pk")
            state = request.GET.get("state", "")
            if state in OutboundMail.State.values:
                rows = rows.filter(state=state)
        else:
            rows = InboundMessage.objects.select_related("ticket").order_by("-received_at", "-pk")
            if show == "triage":
                rows = rows.filter(outcome=Outcome.TRIAGE)
            elif show in Outcome.values:
                rows = rows.filter(outcome=show)
        page = Paginator(rows, 50).get_page(request.GET.get("page"))
        if show != "outbound":
            for item in page:
                item.reason_text = ingest.REASONS.get(item.reason, item.reason)
        return render(
            request,
            "mail/log.html",
            {
                "page": page,
                "show": show,
                "outcomes": Outcome.choices,
                "states": OutboundMail.State.choices,
                "triage_count": InboundMessage.objects.filter(outcome=Outcome.TRIAGE).count(),
                "nav": "mail",
            },
        )


@agent_required
def inbound_detail(request: HttpRequest, inbound_id: int) -> HttpResponse:
    _triage_allowed(request)
    with system_scope():
        row = get_object_or_404(
            InboundMessage.objects.select_related("ticket", "same_id_as"), pk=inbound_id
        )
        parsed = None
        problem = ""
        try:
            parsed = ingest._reparse(row)
        except ingest.TriageError as exc:
            problem = exc.message
        if request.method == "POST":
            response = _triage_action(request, row)
            if response is not None:
                return response
        return render(
            request,
            "mail/inbound.html",
            {
                "row": row,
                "parsed": parsed,
                "problem": problem,
                "reason_text": ingest.REASONS.get(row.reason, row.reason),
                "organisations": visible_organisations(request.permset).filter(is_active=True),
                "categories": Category.choices,
                "can_act": row.outcome in (Outcome.TRIAGE, Outcome.REJECTED),
                "sender_choices": ingest.sender_choices(row),
                "same_id_later": InboundMessage.objects.filter(same_id_as=row).order_by("pk"),
                "nav": "mail",
            },
            status=400 if request.method == "POST" else 200,
        )


def _triage_action(request: HttpRequest, row: InboundMessage) -> HttpResponse | None:
    action = request.POST.get("action")
    try:
        if action == "open":
            org = (
                visible_organisations(request.permset)
                .filter(pk=request.POST.get("organisation") or 0)
                .first()
            )
            if org is None:
                messages.error(request, _("Choose an organisation."))
                return None
            category = request.POST.get("category") or Category.INCIDENT
            if category not in Category.values:
                messages.error(request, _("Choose a category."))
                return None
            ticket = ingest.triage_open(
                row=row,
                actor=request.user,
                organisation=org,
                category=category,
                sender_address=request.POST.get("sender_address", "")[:320],
                sender_id=request.POST.get("sender_id") or None,
            )
        elif action == "append":
            number = (request.POST.get("number") or "").strip().upper()
            try:
                ticket = get_ticket_for_user(request.permset, number, lookup="number")
            except (Http404, Ticket.DoesNotExist):
                messages.error(request, _("No request %(number)s.") % {"number": number or "?"})
                return None
            ingest.triage_append(row=row, actor=request.user, ticket=ticket)
        elif action == "discard":
            ingest.triage_discard(
                row=row, actor=request.user, reason=request.POST.get("reason", "")
            )
            messages.success(request, _("The message was discarded."))
            return redirect("mail:log")
        else:
            messages.error(request, _("Unknown action."))
            return None
    except ingest.TriageError as exc:
        messages.error(request, exc.message)
        return None
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return None
    messages.success(request, _("Filed as %(number)s.") % {"number": ticket.number})
    return redirect("console:ticket", number=ticket.number)


@agent_required
@require_POST
def outbound_retry(request: HttpRequest, outbound_id: int) -> HttpResponse:
    _triage_allowed(request)
    with system_scope():
        row = get_object_or_404(OutboundMail, pk=outbound_id, state=OutboundMail.State.FAILED)
        outbound.retry(row)
    messages.success(request, _("The message will be sent again."))
    return redirect(reverse("mail:log") + "?show=outbound")
