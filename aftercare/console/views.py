"""Staff pages: queue, board, request page, requests on behalf of callers, customers."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from aftercare.accounts.models import User
from aftercare.accounts.querysets import agents, agents_seeing, consultants, consultants_seeing
from aftercare.accounts.roles import PermSet, Role
from aftercare.console.forms import (
    SORTS,
    AssignForm,
    ClassifyForm,
    EscalateForm,
    OnBehalfForm,
    PriorityForm,
    QueueFilterForm,
)
from aftercare.desk import approvals, services, workflow
from aftercare.desk.forms import ApprovalRequestForm, ReplyForm, TransitionForm
from aftercare.desk.models import OPEN_STATUSES, Approval, Channel, Status, Ticket
from aftercare.desk.querysets import get_ticket_for_user, visible_tickets
from aftercare.desk.timeline import build_timeline
from aftercare.lib.keyset import paginate
from aftercare.sla import services as sla_services
from aftercare.tenancy.models import Membership, System
from aftercare.tenancy.querysets import visible_organisations


def agent_required(view):
    """Signed-in staff only; a customer gets 403 (the console is not theirs)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.permset.is_agent:
            raise PermissionDenied(_("The console is for the service desk's staff."))
        return view(request, *args, **kwargs)

    return wrapper


def _filtered(request: HttpRequest, form: QueueFilterForm, default_status: str = "open"):
    qs = visible_tickets(request.permset)
    data = form.cleaned_data if form.is_valid() else {}
    status = data.get("status") or default_status
    if status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status != "all":
        qs = qs.filter(status=status)
    for name in ("priority", "level", "organisation"):
        if data.get(name) not in (None, ""):
            qs = qs.filter(**{name if name != "organisation" else "organisation_id": data[name]})
    if data.get("category"):
        qs = qs.filter(category=data["category"])
    assignee = data.get("assignee")
    if assignee == "me":
        qs = qs.filter(assignee=request.user)
    elif assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif assignee:
        qs = qs.filter(assignee_id=int(assignee))
    sla = data.get("sla")
    now = timezone.now()
    if sla == "soon":
        qs = qs.filter(sla_warn_at__lte=now, sla_due_at__gt=now)
    elif sla == "breached":
        qs = qs.filter(Q(sla_due_at__lte=now) | Q(sla_state="breached"))
    elif sla == "paused":
        qs = qs.filter(sla_state="paused")
    if data.get("sort") == "sla":
        qs = qs.filter(sla_due_at__isnull=False)  # only running clocks have a due time
    text = (data.get("q") or "").strip()
    if text:
        if text.upper().startswith(f"{_prefix()}-"):
            qs = qs.filter(number=text.upper())  # the unique index answers at once
        elif text.isdigit():
            qs = qs.filter(Q(number__endswith=f"-{int(text):06d}") | Q(subject__icontains=text))
        else:
            qs = qs.filter(subject__icontains=text)
    return qs, data


def _prefix() -> str:
    from django.conf import settings

    return settings.AFTERCARE_TICKET_PREFIX


@agent_required
def queue(request: HttpRequest) -> HttpResponse:
    from django.conf import settings

    form = QueueFilterForm(
        request.GET or None,
        organisations=visible_organisations(request.permset).only("pk", "name"),
        agents=agents(),
    )
    qs, data = _filtered(request, form)
    field, descending, _label = SORTS.get(data.get("sort") or "-updated", SORTS["-updated"])
    page = paginate(
        qs.select_related("organisation", "assignee"),
        field,
        descending=descending,
        size=settings.AFTERCARE_QUEUE_PAGE_SIZE,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
    )
    params = request.GET.copy()
    for key in ("after", "before"):
        params.pop(key, None)
    return render(
        request,
        "console/queue.html",
        {
            "form": form,
            "now": timezone.now(),
            "page": page,
            "total": qs.count(),
            "params": params.urlencode(),
            "nav": "queue",
        },
    )


BOARD_COLUMNS = (
    Status.BACKLOG,
    Status.SPRINT,
    Status.IN_PROGRESS,
    Status.WAITING,
    Status.DONE,
    Status.RELEASED,
)
BOARD_CARDS = 30


@agent_required
def board(request: HttpRequest) -> HttpResponse:
    form = QueueFilterForm(
        request.GET or None,
        organisations=visible_organisations(request.permset).only("pk", "name"),
        agents=agents(),
    )
    # The columns are the statuses and each sorts by urgency: no status or sort filter.
    del form.fields["status"], form.fields["sort"]
    qs, _data = _filtered(request, form, default_status="all")
    qs = qs.filter(status__in=BOARD_COLUMNS)
    counts = dict(qs.order_by().values_list("status").annotate(n=Count("pk")))
    roles = request.permset.staff_roles
    columns = []
    for status in BOARD_COLUMNS:
        rules = workflow.allowed_transitions(status, roles)
        cards = list(
            qs.filter(status=status)
            .select_related("organisation", "assignee")
            .order_by("priority", "-updated_at", "-pk")[:BOARD_CARDS]
        )
        columns.append(
            {
                "status": status,
                "label": Status(status).label,
                "cards": cards,
                "count": counts.get(status, 0),
                "rules": rules,
                "targets": " ".join(r.target for r in rules),
                "reason_targets": " ".join(r.target for r in rules if r.reason_required),
            }
        )
    params = request.GET.copy()
    return render(
        request,
        "console/board.html",
        {
            "form": form,
            "now": timezone.now(),
            "columns": columns,
            "nav": "board",
            "params": params.urlencode(),
        },
    )


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


def _safe_next(request: HttpRequest) -> str | None:
    from django.utils.http import url_has_allowed_host_and_scheme

    nxt = request.POST.get("next_url")
    if nxt and url_has_allowed_host_and_scheme(nxt, {request.get_host()}, request.is_secure()):
        return nxt
    return None


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


def _attach_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@agent_required
@require_POST
def board_move(request: HttpRequest, number: str) -> HttpResponse:
    """A card moved on the board: the same checked transition as on the request page."""
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    _perform(request, ticket, "transition", report=True)
    return redirect(_safe_next(request) or reverse("console:board"))


@agent_required
def new_ticket(request: HttpRequest) -> HttpResponse:
    permset = request.permset
    if not permset.has("desk.open_ticket_on_behalf"):
        raise PermissionDenied(_("You may not register requests on behalf of customers."))
    organisations = list(visible_organisations(permset).filter(is_active=True))
    form = OnBehalfForm(
        request.POST or None,
        request.FILES or None,
        initial={"organisation": request.GET.get("organisation")},
    )
    form.fields["organisation"].choices = [("", "—"), *((o.pk, o.name) for o in organisations)]
    # Callers are people of the organisations in reach, and only of the chosen one once
    # one is chosen (``_caller`` and ``open_ticket`` check the posted caller again).
    chosen = _chosen_organisation(form, organisations)
    form.fields["reporter"].error_messages["invalid_choice"] = _(
        "The caller is not a member of this organisation."
    )
    members = (
        Membership.objects.filter(organisation__in=[chosen] if chosen else organisations)
        .select_related("user", "organisation")
        .order_by("organisation__name", "user__first_name")
    )
    form.fields["reporter"].choices = [
        ("", _("— new caller —")),
        *((m.user_id, f"{m.organisation.name} — {m.user.display_name}") for m in members),
    ]
    systems = System.objects.filter(organisation__in=organisations).select_related("organisation")
    form.fields["system"].choices = [
        ("", "—"),
        *((s.pk, f"{s.organisation.name} — {s}") for s in systems),
    ]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        org = next(o for o in organisations if o.pk == data["organisation"])
        try:
            with transaction.atomic():
                reporter = _caller(data, org)
                system = None
                if data["system"]:
                    system = System.objects.filter(pk=int(data["system"])).first()
                ticket = services.open_ticket(
                    actor=request.user,
                    organisation=org,
                    reporter=reporter,
                    subject=data["subject"],
                    description=data["description"],
                    conditions=data["conditions"],
                    category=data["category"],
                    priority=data["priority"],
                    channel=data["channel"],
                    system=system,
                    attachments=data["files"],
                )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(
                request, _("Request %(number)s registered.") % {"number": ticket.number}
            )
            return redirect("console:ticket", number=ticket.number)
    return render(
        request,
        "console/new_ticket.html",
        {"form": form, "nav": "new"},
        status=400 if request.method == "POST" else 200,
    )


def _chosen_organisation(form: OnBehalfForm, organisations: list):
    value = form.data.get("organisation") if form.is_bound else form.initial.get("organisation")
    try:
        pk = int(value or 0)
    except (TypeError, ValueError):
        return None
    return next((o for o in organisations if o.pk == pk), None)


def _caller(data: dict, organisation) -> User:
    if data.get("reporter"):
        member = Membership.objects.filter(
            organisation=organisation, user_id=data["reporter"]
        ).select_related("user")
        found = member.first()
        if found is None:
            raise ValidationError(
                {"reporter": _("The caller is not a member of this organisation.")}
            )
        return found.user
    email = data["new_caller_email"].strip().lower()
    user = User.objects.filter(email__iexact=email).order_by("-is_active", "pk").first()
    if user is not None and PermSet(user).is_agent:
        # A staff account must not quietly become a customer of this organisation.
        raise ValidationError({"new_caller_email": _("This address belongs to a member of staff.")})
    if (
        user is not None
        and not Membership.objects.with_scopes_disabled()
        .filter(user=user, organisation=organisation)
        .exists()
    ):
        # Someone of another customer (or of none): never re-home them here, and say
        # nothing of who they are or where they work.
        raise ValidationError(
            {
                "new_caller_email": _(
                    "This address belongs to an existing account outside this customer; "
                    "ask an administrator to add it."
                )
            }
        )
    if user is None:
        first, _sep, last = data["new_caller_name"].strip().partition(" ")
        user = User(
            username=f"{email.split('@')[0][:100]}-{get_random_string(6).lower()}",
            email=email,
            first_name=first[:150],
            last_name=last[:150],
            language=organisation.language,
        )
        user.set_unusable_password()
        user.save()
    Membership.objects.get_or_create(
        user=user, organisation=organisation, defaults={"role": Role.CUSTOMER}
    )
    return user


@agent_required
def organisations(request: HttpRequest) -> HttpResponse:
    orgs = (
        visible_organisations(request.permset)
        .annotate(open_count=Count("tickets", filter=_open_q()))
        .order_by("name")
    )
    return render(
        request, "console/organisations.html", {"organisations": orgs, "nav": "organisations"}
    )


def _open_q():
    from django.db.models import Q

    return Q(tickets__status__in=OPEN_STATUSES)


@agent_required
def organisation_detail(request: HttpRequest, code: str) -> HttpResponse:
    from django.http import Http404

    org = visible_organisations(request.permset).filter(code=code).first()
    if org is None:
        raise Http404("No such organisation")
    params = QueryDict(mutable=True)
    params["organisation"] = str(org.pk)
    return render(
        request,
        "console/organisation.html",
        {
            "org": org,
            "members": Membership.objects.filter(organisation=org).select_related("user"),
            "contacts": org.contacts.all(),
            "bounced": _bounced(org),
            "contracts": org.contracts.all(),
            "systems": org.systems.all(),
            "queue_params": params.urlencode(),
            "nav": "organisations",
        },
    )


def _bounced(org) -> dict[str, str]:
    """Addresses of the organisation's people that mail does not reach, with the reason."""
    from aftercare.mail.models import AddressStatus

    addresses = {
        a.lower()
        for a in [
            *Membership.objects.filter(organisation=org).values_list("user__email", flat=True),
            *org.contacts.values_list("email", flat=True),
        ]
        if a
    }
    rows = AddressStatus.objects.filter(address__in=addresses, bounce_count__gt=0)
    return {r.address: r.bounce_reason or "?" for r in rows}


@agent_required
def reports(request: HttpRequest) -> HttpResponse:
    """SLA compliance, response and resolution times, backlog age (support managers)."""
    from aftercare.sla import presentation
    from aftercare.sla import reports as sla_reports
    from aftercare.sla.models import SlaClock

    if not request.permset.has("desk.view_reports"):
        raise PermissionDenied(_("Reports are for support managers."))
    start, end = sla_reports.period_from(request.GET)
    tickets = visible_tickets(request.permset)
    organisations = list(visible_organisations(request.permset).only("pk", "name"))
    organisation_id = None
    try:
        organisation_id = int(request.GET.get("organisation") or 0) or None
    except ValueError:
        organisation_id = None
    clocks = SlaClock.objects.filter(ticket__in=tickets.values("pk"))
    if organisation_id:
        tickets = tickets.filter(organisation_id=organisation_id)
        clocks = clocks.filter(organisation_id=organisation_id)
    report = sla_reports.build(tickets, clocks, start, end)
    return presentation.respond(
        request,
        "console/reports.html",
        report,
        organisations=organisations,
        organisation_id=organisation_id,
        nav="reports",
    )


@agent_required
def notifications(request: HttpRequest) -> HttpResponse:
    """The signed-in agent's SLA warnings and breaches, newest first."""
    from aftercare.sla.models import Notification

    # Only notifications of requests the agent may still see (a restriction may have
    # been added since they were made).
    mine = Notification.objects.filter(
        user=request.user, ticket__in=visible_tickets(request.permset).values("pk")
    )
    if request.method == "POST":
        mine.filter(read_at__isnull=True).update(read_at=timezone.now())
        messages.success(request, _("All notifications marked as read."))
        return redirect("console:notifications")
    rows = list(mine.select_related("ticket", "clock").order_by("-created_at")[:200])
    return render(
        request,
        "console/notifications.html",
        {
            "rows": rows,
            "nav": "notifications",
            "unread": sum(1 for n in rows if n.read_at is None),
        },
    )
