"""Portal pages (customers): their organisations' go-live plans, and the sign-offs.

Every customer of the organisation reads the plan; a coordinator of the organisation
signs for the customer's side (the plan, the go/no-go decision, a fixed action point).
The rules are in ``services``; these views only fetch (404 for what is not the user's)
and show the refusal.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from aftercare.desk.querysets import visible_tickets
from aftercare.projects import forms, services
from aftercare.projects.models import SignOff, Snag
from aftercare.projects.querysets import get_project_for_user, visible_projects
from aftercare.projects.views import _plan, _sessions, _snags_with_confirmations, customer_view


@customer_view
def portal_list(request: HttpRequest) -> HttpResponse:
    projects = visible_projects(request.permset).select_related("organisation", "system")
    return render(request, "projects/portal_list.html", {"projects": projects})


def _context(request: HttpRequest, project, sign_form=None) -> dict:
    side = services.signing_side(request.user, project) if project.is_open else None
    return {
        "project": project,
        "stages": _plan(project),
        "participants": project.participants.select_related("user"),
        "snags": _snags_with_confirmations(project),
        "decisions": project.decisions.prefetch_related("participants"),
        "signatures": services.signatures(project),
        "sessions": _sessions(project),
        # Only the requests this customer may see anyway (a plain user: their own).
        "incidents": project.incidents.filter(
            ticket__in=visible_tickets(request.permset)
        ).select_related("ticket"),
        "can_sign": side,
        "sign_form": sign_form or forms.SignOffForm(),
        "people": (project.technical_coordinator, project.customer_responsible),
    }


@customer_view
def portal_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for_user(request.permset, project_id)
    return render(request, "projects/portal_plan.html", _context(request, project))


@customer_view
def portal_sign(request: HttpRequest, project_id: int) -> HttpResponse:
    """POST: sign the plan or the decision, or confirm a fixed action point, for the
    customer's side. Only a coordinator of the project's organisation gets through."""
    project = get_project_for_user(request.permset, project_id)
    if request.method != "POST":
        return redirect("project_portal:detail", project_id=project.pk)
    form = forms.SignOffForm(request.POST)
    kind = request.POST.get("kind", "")
    snag = None
    if kind == SignOff.Kind.SNAG:
        try:
            snag = Snag.objects.filter(
                project=project, pk=int(request.POST.get("snag", ""))
            ).first()
        except ValueError:
            snag = None
    try:
        if kind not in SignOff.Kind.values:
            raise services.PlanError(_("Unknown kind of sign-off."))
        if not form.is_valid():
            raise services.PlanError("; ".join(e for errs in form.errors.values() for e in errs))
        signoff = services.sign_off(
            project=project,
            actor=request.user,
            kind=kind,
            note=form.cleaned_data["note"],
            snag=snag,
        )
    except PermissionDenied as exc:
        raise PermissionDenied(str(exc) or _("You may not sign for this project.")) from exc
    except services.PlanError as exc:
        messages.error(request, exc.message)
        return render(
            request,
            "projects/portal_plan.html",
            _context(request, project, sign_form=form),
            status=400,
        )
    if kind == SignOff.Kind.SNAG:
        text = _("Fix confirmed: %(snag)s.") % {"snag": snag.text}
    else:
        text = _("Signed for %(org)s: %(what)s, plan version %(version)d.") % {
            "org": project.organisation.name,
            "what": signoff.get_kind_display(),
            "version": signoff.plan_version,
        }
    messages.success(request, text)
    return redirect("project_portal:detail", project_id=project.pk)
