"""Console pages (staff) and portal pages (customers, read-only) for go-live projects.

The pages hold no rules: they fetch through ``querysets`` (404 for what the user may not
see) and change through ``services`` (which refuse with a reason shown to the user).
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.querysets import agents
from aftercare.projects import forms, services
from aftercare.projects.models import (
    Criterion,
    Participant,
    PlanTemplate,
    Project,
    SignOff,
    Snag,
    Stage,
    Task,
    TemplateCriterion,
    TemplateStage,
    TemplateTask,
    TestSession,
)
from aftercare.projects.querysets import get_project_for_user, visible_projects
from aftercare.tenancy.models import ContactPerson, Membership, System
from aftercare.tenancy.querysets import visible_organisations

VIEW = "projects.view_project"


def staff_view(perm: str = VIEW):
    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            permset = request.permset
            if not permset.is_agent:
                raise PermissionDenied(_("The console is for the service desk's staff."))
            if not permset.has(perm):
                raise PermissionDenied(_("You may not open this page."))
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def customer_view(view):
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if request.permset.is_agent:
            if "project_id" in kwargs:
                return redirect("projects:detail", project_id=kwargs["project_id"])
            return redirect("projects:list")
        return view(request, *args, **kwargs)

    return wrapper


def _members(project: Project) -> list[User]:
    rows = Membership.objects.filter(organisation_id=project.organisation_id).select_related("user")
    return [m.user for m in rows.order_by("user__first_name", "user__last_name")]


def _contacts(project: Project) -> list[ContactPerson]:
    return list(ContactPerson.objects.filter(organisation_id=project.organisation_id))


def _sessions(project: Project) -> list[TestSession]:
    return list(
        project.test_sessions.prefetch_related("staff_attendees", "contact_attendees").order_by(
            "starts_at", "pk"
        )
    )


def _people_form(project: Project, staff_users, members, data=None) -> forms.PeopleForm:
    form = forms.PeopleForm(
        data,
        initial={
            "technical_coordinator": project.technical_coordinator_id or "",
            "customer_responsible": project.customer_responsible_id or "",
        },
    )
    form.fields["technical_coordinator"].choices = _choices(staff_users)
    form.fields["customer_responsible"].choices = _choices(members)
    return form


def _session_form(staff_users, contacts, data=None) -> forms.SessionForm:
    form = forms.SessionForm(data)
    form.fields["staff_attendees"].choices = [(str(u.pk), u.display_name) for u in staff_users]
    form.fields["contact_attendees"].choices = [
        (str(c.pk), f"{c.name} ({c.role})" if c.role else c.name) for c in contacts
    ]
    return form


def _choices(users) -> list[tuple[str, str]]:
    return [("", "—"), *((str(u.pk), u.display_name) for u in users)]


def _user(value, allowed: list[User]) -> User | None:
    if not value:
        return None
    return next((u for u in allowed if str(u.pk) == str(value)), None)


# -- list and new --------------------------------------------------------------------------


@staff_view()
def project_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    qs = visible_projects(request.permset).select_related("organisation", "system")
    if status in Project.Status.values:
        qs = qs.filter(status=status)
    qs = qs.annotate(
        stages_total=Count("stages", distinct=True),
        stages_closed=Count("stages", filter=Q(stages__closed_at__isnull=False), distinct=True),
        snags_open=Count(
            "snags",
            filter=Q(snags__status__in=[Snag.Status.OPEN, Snag.Status.IN_PROGRESS]),
            distinct=True,
        ),
    ).order_by("status", "go_live_on", "pk")
    rows = [(p, services.notice_warning(p)) for p in qs[:500]]
    return render(
        request,
        "projects/list.html",
        {"rows": rows, "status": status, "nav": "projects"},
    )


@staff_view(services.MANAGE)
def project_new(request: HttpRequest) -> HttpResponse:
    organisations = list(visible_organisations(request.permset).filter(is_active=True))
    systems = list(
        System.objects.filter(organisation__in=organisations).select_related("organisation")
    )
    templates = list(PlanTemplate.objects.all())
    initial = {"template": next((t.pk for t in templates if t.is_default), None)}
    if request.GET.get("organisation"):
        initial["organisation"] = request.GET["organisation"]
    form = forms.ProjectForm(request.POST or None, initial=initial)
    form.fields["organisation"].choices = [("", "—"), *((o.pk, o.name) for o in organisations)]
    form.fields["system"].choices = [
        ("", "—"),
        *((str(s.pk), f"{s.organisation.name} — {s}") for s in systems),
    ]
    form.fields["template"].choices = [(t.pk, t.name) for t in templates]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        org = next(o for o in organisations if o.pk == data["organisation"])
        system = next((s for s in systems if str(s.pk) == data["system"]), None)
        template = next(t for t in templates if t.pk == data["template"])
        try:
            project = services.create_project(
                actor=request.user,
                organisation=org,
                name=data["name"],
                go_live_on=data["go_live_on"],
                template=template,
                system=system,
            )
        except services.PlanError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Project “%(name)s” created.") % {"name": project.name})
            return redirect("projects:detail", project_id=project.pk)
    return render(
        request,
        "projects/new.html",
        {"form": form, "nav": "projects"},
        status=400 if request.method == "POST" else 200,
    )


# -- the plan page -------------------------------------------------------------------------


def _plan(project: Project):
    return list(
        project.stages.select_related(
            "vendor_owner", "customer_owner", "closed_by"
        ).prefetch_related(
            Prefetch("tasks", queryset=Task.objects.order_by("position", "pk")),
            Prefetch(
                "criteria",
                queryset=Criterion.objects.select_related("met_by").order_by("position", "pk"),
            ),
        )
    )


def _plan_context(request: HttpRequest, project: Project, **bound) -> dict:
    members = _members(project)
    staff_users = list(agents())
    participants = list(project.participants.select_related("user"))
    for p in participants:
        p.marks = [
            ("credentials", p.credentials_at, _("Received")),
            ("login", p.login_tested_at, _("Login tested")),
            ("training", p.trained_at, _("Attended")),
        ]
    stages = _plan(project)
    can_manage = request.permset.has(services.MANAGE) and project.is_open
    for stage in stages:
        form = bound.get(f"stage-{stage.pk}") or forms.StageForm(
            initial={
                "vendor_owner": stage.vendor_owner_id or "",
                "customer_owner": stage.customer_owner_id or "",
                "due_on": stage.due_on,
            },
            prefix=f"s{stage.pk}",
        )
        form.fields["vendor_owner"].choices = _choices(staff_users)
        form.fields["customer_owner"].choices = _choices(members)
        stage.form = form
        stage.refusal = services.close_refusal(stage) if not stage.is_closed else None
    for stage, following in zip(stages, [*stages[1:], None], strict=True):
        stage.can_reopen = stage.is_closed and (following is None or not following.is_closed)
    participant_form = bound.get("participant") or forms.ParticipantForm()
    participant_form.fields["user"].choices = [
        ("", "—"),
        *((str(u.pk), u.display_name) for u in [*members, *staff_users]),
    ]
    incident_form = bound.get("incident_open") or forms.IncidentForm()
    incident_form.fields["reporter"].choices = _choices(members)
    decision_form = bound.get("decision") or forms.DecisionForm(
        initial={"decided_on": timezone.localdate()}
    )
    decision_form.fields["participants"].choices = [
        (str(p.pk), f"{p.name} ({p.get_side_display()})") for p in participants
    ]
    return {
        "project": project,
        "signatures": services.signatures(project),
        "sign_side": services.signing_side(request.user, project) if project.is_open else None,
        "sign_form": bound.get("sign") or forms.SignOffForm(),
        "people_form": bound.get("people") or _people_form(project, staff_users, members),
        "session_form": bound.get("session") or _session_form(staff_users, _contacts(project)),
        "sessions": _sessions(project),
        "open_incidents": list(services.open_incidents(project)),
        "close_refusals": services.close_project_refusals(project) if project.is_open else [],
        "stages": stages,
        "participants": participants,
        "incidents": project.incidents.select_related("ticket"),
        "decisions": project.decisions.prefetch_related("participants").select_related(
            "recorded_by"
        ),
        "events": project.events.select_related("actor")[:30],
        "warning": services.notice_warning(project),
        "can_manage": can_manage,
        "participant_form": participant_form,
        "informed_form": bound.get("informed")
        or forms.InformedForm(initial={"on": project.users_informed_on}),
        "incident_form": incident_form,
        "link_form": bound.get("incident_link") or forms.LinkForm(),
        "decision_form": decision_form,
        "snags_open": project.snags.filter(
            status__in=[Snag.Status.OPEN, Snag.Status.IN_PROGRESS]
        ).count(),
        "nav": "projects",
    }


PLAN_ACTIONS = {
    "criteria",
    "close_stage",
    "reopen_stage",
    "stage",
    "task",
    "participant",
    "mark",
    "informed",
    "incident_open",
    "incident_link",
    "decision",
    "close_project",
    "sign",
    "people",
    "session",
    "session_cancel",
}


@staff_view()
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for_user(request.permset, project_id)
    if request.method != "POST":
        return render(request, "projects/plan.html", _plan_context(request, project))
    if not request.permset.has(services.MANAGE):
        raise PermissionDenied(_("You may not change go-live plans."))
    action = request.POST.get("action", "")
    if action not in PLAN_ACTIONS:
        messages.error(request, _("Unknown action."))
        return redirect("projects:detail", project_id=project.pk)
    key, form, done = _perform(request, project, action)
    if done:
        anchor = request.POST.get("anchor", "")
        url = reverse("projects:detail", kwargs={"project_id": project.pk})
        return redirect(f"{url}#{anchor}" if anchor.replace("-", "").isalnum() else url)
    project.refresh_from_db()
    bound = {key: form} if form is not None else {}
    return render(
        request, "projects/plan.html", _plan_context(request, project, **bound), status=400
    )


def _in_project(model, project: Project, pk, via: str):
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return model.objects.filter(pk=pk, **{via: project}).first()


def _perform(request: HttpRequest, project: Project, action: str):
    """Run one action of the plan page; return (form key, bound form, success)."""
    user, post = request.user, request.POST
    form = None
    key = action
    try:
        if action in ("criteria", "close_stage", "reopen_stage", "stage"):
            stage = _in_project(Stage, project, post.get("stage"), "project")
            if stage is None:
                messages.error(request, _("Unknown stage."))
                return key, None, False
            if action == "criteria":
                ids = [i for i in post.getlist("met") if i.isdigit()]
                n = services.set_criteria(stage=stage, actor=user, met_ids=ids)
                messages.success(request, _("Checklist saved (%(n)d change(s)).") % {"n": n})
            elif action == "close_stage":
                services.close_stage(stage=stage, actor=user)
                messages.success(request, _("Stage “%(stage)s” closed.") % {"stage": stage.title})
            elif action == "reopen_stage":
                services.reopen_stage(stage=stage, actor=user)
                messages.success(request, _("Stage “%(stage)s” reopened.") % {"stage": stage.title})
            else:
                key = f"stage-{stage.pk}"
                members, staff_users = _members(project), list(agents())
                form = forms.StageForm(post, prefix=f"s{stage.pk}")
                form.fields["vendor_owner"].choices = _choices(staff_users)
                form.fields["customer_owner"].choices = _choices(members)
                if not form.is_valid():
                    return key, form, False
                data = form.cleaned_data
                services.update_stage(
                    stage=stage,
                    actor=user,
                    vendor_owner=_user(data["vendor_owner"], staff_users),
                    customer_owner=_user(data["customer_owner"], members),
                    due_on=data["due_on"],
                )
                messages.success(request, _("Stage saved."))
        elif action == "task":
            task = _in_project(Task, project, post.get("task"), "stage__project")
            if task is None:
                messages.error(request, _("Unknown task."))
                return key, None, False
            services.set_task_done(task=task, actor=user, done=post.get("done") == "1")
        elif action == "participant":
            members, staff_users = _members(project), list(agents())
            form = forms.ParticipantForm(post)
            form.fields["user"].choices = [
                ("", "—"),
                *((str(u.pk), u.display_name) for u in [*members, *staff_users]),
            ]
            if not form.is_valid():
                return key, form, False
            data = form.cleaned_data
            services.add_participant(
                project=project,
                actor=user,
                name=data["name"],
                email=data["email"],
                user=_user(data["user"], [*members, *staff_users]),
                side=data["side"],
                role=data["role"],
                is_target_user=data["is_target_user"],
            )
            messages.success(request, _("Participant added."))
        elif action == "mark":
            participant = _in_project(Participant, project, post.get("participant"), "project")
            if participant is None:
                messages.error(request, _("Unknown participant."))
                return key, None, False
            services.mark_participant(
                participant=participant,
                actor=user,
                what=post.get("what", ""),
                done=post.get("done", "1") == "1",
            )
            messages.success(request, _("Recorded for %(name)s.") % {"name": participant.name})
        elif action == "informed":
            form = forms.InformedForm(post)
            if not form.is_valid():
                return key, form, False
            services.record_users_informed(project=project, actor=user, on=form.cleaned_data["on"])
            messages.success(request, _("Users' notice recorded."))
        elif action == "incident_open":
            members = _members(project)
            form = forms.IncidentForm(post)
            form.fields["reporter"].choices = _choices(members)
            if not form.is_valid():
                return key, form, False
            data = form.cleaned_data
            incident = services.open_incident(
                project=project,
                actor=user,
                subject=data["subject"],
                description=data["description"],
                reporter=_user(data["reporter"], members),
            )
            messages.success(
                request, _("Request %(number)s opened.") % {"number": incident.ticket.number}
            )
        elif action == "incident_link":
            from aftercare.desk.querysets import visible_tickets

            form = forms.LinkForm(post)
            if not form.is_valid():
                return key, form, False
            number = form.cleaned_data["number"].strip().upper()
            ticket = (
                visible_tickets(request.permset)
                .filter(number=number, organisation_id=project.organisation_id)
                .first()
            )
            if ticket is None:
                form.add_error(
                    "number", _("No request with this number for the project's organisation.")
                )
                return key, form, False
            services.link_ticket(project=project, actor=user, ticket=ticket)
            messages.success(request, _("Request %(number)s linked.") % {"number": ticket.number})
        elif action == "decision":
            participants = list(project.participants.all())
            form = forms.DecisionForm(post)
            form.fields["participants"].choices = [(str(p.pk), p.name) for p in participants]
            if not form.is_valid():
                return key, form, False
            data = form.cleaned_data
            chosen = [p for p in participants if str(p.pk) in data["participants"]]
            decision = services.decide(
                project=project,
                actor=user,
                outcome=data["outcome"],
                decided_on=data["decided_on"],
                reasons=data["reasons"],
                participants=chosen,
                new_go_live_on=data["new_go_live_on"],
            )
            messages.success(
                request,
                _("Decision recorded: %(outcome)s.") % {"outcome": decision.get_outcome_display()},
            )
        elif action == "close_project":
            services.close_project(project=project, actor=user)
            messages.success(request, _("Project closed."))
        elif action == "sign":
            form = forms.SignOffForm(post)
            kind = post.get("kind", "")
            if kind not in (SignOff.Kind.PLAN, SignOff.Kind.DECISION):
                messages.error(request, _("Unknown kind of sign-off."))
                return key, None, False
            if not form.is_valid():
                return key, form, False
            signoff = services.sign_off(
                project=project, actor=user, kind=kind, note=form.cleaned_data["note"]
            )
            messages.success(
                request,
                _("Signed for the vendor: %(what)s, plan version %(version)d.")
                % {"what": signoff.get_kind_display(), "version": signoff.plan_version},
            )
        elif action == "people":
            members, staff_users = _members(project), list(agents())
            form = _people_form(project, staff_users, members, post)
            if not form.is_valid():
                return key, form, False
            data = form.cleaned_data
            services.set_project_people(
                project=project,
                actor=user,
                technical_coordinator=_user(data["technical_coordinator"], staff_users),
                customer_responsible=_user(data["customer_responsible"], members),
            )
            messages.success(request, _("Coordinators saved."))
        elif action == "session":
            staff_users, contacts = list(agents()), _contacts(project)
            form = _session_form(staff_users, contacts, post)
            if not form.is_valid():
                return key, form, False
            data = form.cleaned_data
            session = services.schedule_test_session(
                project=project,
                actor=user,
                title=data["title"],
                on=data["on"],
                starts=data["starts"],
                ends=data["ends"],
                staff_attendees=[u for u in staff_users if str(u.pk) in data["staff_attendees"]],
                contact_attendees=[c for c in contacts if str(c.pk) in data["contact_attendees"]],
                note=data["note"],
            )
            messages.success(
                request, _("Test session “%(title)s” scheduled.") % {"title": session.title}
            )
        elif action == "session_cancel":
            session = _in_project(TestSession, project, post.get("session"), "project")
            if session is None:
                messages.error(request, _("Unknown test session."))
                return key, None, False
            services.cancel_test_session(session=session, actor=user)
            messages.success(request, _("Test session cancelled."))
    except services.PlanError as exc:
        if form is not None:
            form.add_error(None, exc.message)
        messages.error(request, exc.message)
        return key, form, False
    except (PermissionDenied, ValidationError) as exc:
        text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        if form is not None:
            form.add_error(None, text)
        messages.error(request, text or _("You may not do that."))
        return key, form, False
    return key, form, True


# -- snag list -----------------------------------------------------------------------------


@staff_view()
def snag_list(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for_user(request.permset, project_id)
    owners = [*_members(project), *agents()]
    form = forms.SnagForm()
    form.fields["owner"].choices = _choices(owners)
    status = 200
    if request.method == "POST":
        if not request.permset.has(services.MANAGE):
            raise PermissionDenied(_("You may not change go-live plans."))
        action = request.POST.get("action", "")
        try:
            if action == "add":
                form = forms.SnagForm(request.POST)
                form.fields["owner"].choices = _choices(owners)
                if form.is_valid():
                    data = form.cleaned_data
                    services.add_snag(
                        project=project,
                        actor=request.user,
                        text=data["text"],
                        owner=_user(data["owner"], owners),
                        due_on=data["due_on"],
                    )
                    messages.success(request, _("Action point added."))
                    return redirect("projects:snags", project_id=project.pk)
            elif action in ("status", "ticket"):
                snag = _in_project(Snag, project, request.POST.get("snag"), "project")
                if snag is None:
                    messages.error(request, _("Unknown action point."))
                elif action == "status":
                    services.set_snag_status(
                        snag=snag,
                        actor=request.user,
                        status=request.POST.get("status", ""),
                        reason=request.POST.get("reason", ""),
                    )
                    messages.success(request, _("Status saved."))
                    return redirect("projects:snags", project_id=project.pk)
                else:
                    category_form = forms.SnagTicketForm(request.POST)
                    if not category_form.is_valid():
                        raise services.PlanError(_("Choose the request's category."))
                    ticket = services.snag_to_ticket(
                        snag=snag,
                        actor=request.user,
                        category=category_form.cleaned_data["category"],
                    )
                    messages.success(
                        request, _("Request %(number)s opened.") % {"number": ticket.number}
                    )
                    return redirect("projects:snags", project_id=project.pk)
            else:
                messages.error(request, _("Unknown action."))
        except services.PlanError as exc:
            if action == "add":
                form.add_error(None, exc.message)
            messages.error(request, exc.message)
        except (PermissionDenied, ValidationError) as exc:
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            messages.error(request, text or _("You may not do that."))
        status = 400
    snags = _snags_with_confirmations(project)
    return render(
        request,
        "projects/snags.html",
        {
            "project": project,
            "snags": snags,
            "form": form,
            "category_form": forms.SnagTicketForm(),
            "statuses": Snag.Status.choices,
            "can_manage": request.permset.has(services.MANAGE) and project.is_open,
            "nav": "projects",
        },
        status=status,
    )


# -- template editor -----------------------------------------------------------------------


TEMPLATE_MODELS = {"stage": TemplateStage, "task": TemplateTask, "criterion": TemplateCriterion}


@staff_view(services.EDIT_TEMPLATES)
def template_editor(request: HttpRequest) -> HttpResponse:
    """Templates are vendor-wide (no organisation's data): chosen by ``?template=``."""
    templates = list(PlanTemplate.objects.all())
    chosen = request.POST.get("template") or request.GET.get("template")
    template = next((t for t in templates if str(t.pk) == str(chosen)), None)
    if template is None and templates:
        template = templates[0]
    status = 200
    bound: dict = {}
    if request.method == "POST":
        result = _template_action(request, template, templates, bound)
        if result is not None:
            return result
        status = 400
    stages = []
    if template is not None:
        stages = list(
            template.stages.prefetch_related("tasks", "criteria").order_by("position", "pk")
        )
        for stage in stages:
            stage.form = bound.get(f"stage-{stage.pk}") or forms.TemplateStageForm(
                initial={
                    "title": stage.title,
                    "kind": stage.kind,
                    "due_offset_days": stage.due_offset_days,
                    "description": stage.description,
                },
                prefix=f"ts{stage.pk}",
            )
    return render(
        request,
        "projects/templates.html",
        {
            "templates": templates,
            "template": template,
            "stages": stages,
            "new_stage_form": bound.get("add_stage") or forms.TemplateStageForm(prefix="new"),
            "item_form": forms.TemplateItemForm(),
            "nav": "projects",
        },
        status=status,
    )


def _template_action(request: HttpRequest, template, templates, bound):
    post, user = request.POST, request.user
    action = post.get("action", "")
    base = reverse("projects:templates")
    try:
        if action == "create":
            copy_from = next((t for t in templates if str(t.pk) == post.get("copy_from")), None)
            created = services.create_template(
                actor=user, name=post.get("name", ""), copy_from=copy_from
            )
            messages.success(request, _("Template created."))
            return redirect(f"{base}?template={created.pk}")
        if template is None:
            messages.error(request, _("Choose a template."))
            return None
        here = f"{base}?template={template.pk}"
        if action == "add_stage":
            form = forms.TemplateStageForm(post, prefix="new")
            if not form.is_valid():
                bound["add_stage"] = form
                return None
            services.add_template_stage(template=template, actor=user, **form.cleaned_data)
            messages.success(request, _("Stage added."))
            return redirect(here)
        if action in ("edit_stage", "add_task", "add_criterion"):
            stage = template.stages.filter(pk=_int(post.get("stage"))).first()
            if stage is None:
                messages.error(request, _("Unknown stage."))
                return None
            if action == "edit_stage":
                form = forms.TemplateStageForm(post, prefix=f"ts{stage.pk}")
                if not form.is_valid():
                    bound[f"stage-{stage.pk}"] = form
                    return None
                services.update_template_stage(stage=stage, actor=user, **form.cleaned_data)
                messages.success(request, _("Stage saved."))
                return redirect(here)
            form = forms.TemplateItemForm(post)
            if not form.is_valid():
                messages.error(request, _("Write the text of the new item."))
                return None
            data = form.cleaned_data
            if action == "add_task":
                services.add_template_task(stage=stage, actor=user, text=data["text"])
            else:
                services.add_template_criterion(
                    stage=stage,
                    actor=user,
                    text=data["text"],
                    must_be_first=data["must_be_first"],
                    rule=data["rule"] or "",
                )
            messages.success(request, _("Item added."))
            return redirect(here)
        if action in ("up", "down", "delete"):
            model = TEMPLATE_MODELS.get(post.get("kind", ""))
            item = None
            if model is TemplateStage:
                item = template.stages.filter(pk=_int(post.get("item"))).first()
            elif model is not None:
                item = model.objects.filter(
                    pk=_int(post.get("item")), stage__template=template
                ).first()
            if item is None:
                messages.error(request, _("Unknown item."))
                return None
            if action == "delete":
                services.delete_template_item(item=item, actor=user)
                messages.success(request, _("Deleted."))
            else:
                services.move_template_item(
                    item=item, actor=user, direction=-1 if action == "up" else 1
                )
            return redirect(here)
        messages.error(request, _("Unknown action."))
        return None
    except services.PlanError as exc:
        messages.error(request, exc.message)
        return None


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _snags_with_confirmations(project: Project) -> list[Snag]:
    """The snag list with, on each, the customer's confirmation of its fix (if any)."""
    snags = list(project.snags.select_related("owner", "ticket"))
    confirmations = {}
    rows = SignOff.objects.filter(project_id=project.pk, kind=SignOff.Kind.SNAG).select_related(
        "user"
    )
    for row in rows.order_by("signed_at", "pk"):
        confirmations[row.snag_id] = row
    for snag in snags:
        row = confirmations.get(snag.pk)
        valid = row is not None and snag.done_at is not None and row.signed_at >= snag.done_at
        snag.confirmation = row if valid and snag.status == Snag.Status.DONE else None
    return snags
