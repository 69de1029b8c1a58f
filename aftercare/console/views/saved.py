"""Saved queue views: personal ones for every agent, shared ones curated by managers.

A view is a remembered query string; opening it is opening the queue with exactly those
filters, so it obeys the same visibility rules as a typed address. Another agent's
personal view does not exist for anyone else (404); a shared view is read by every agent
and changed only with ``console.manage_shared_views`` (403).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from aftercare.accounts.querysets import agents
from aftercare.console.forms import SORTS, SavedViewForm
from aftercare.console.models import SavedView
from aftercare.console.views.common import _safe_next, agent_required
from aftercare.console.views.queue import visible_saved_views
from aftercare.tenancy.querysets import visible_organisations

MANAGE = "console.manage_shared_views"


def _form(request: HttpRequest, data=None, **kwargs) -> SavedViewForm:
    return SavedViewForm(
        data,
        organisations=visible_organisations(request.permset).only("pk", "name"),
        agents=agents(),
        may_share=request.permset.has(MANAGE),
        **kwargs,
    )


def get_view_for_user(request: HttpRequest, *, edit: bool = False) -> SavedView:
    """The view named by ``?view=`` (or the posted ``view``).

    404 for another agent's personal view (and for a shared one naming an organisation
    the user cannot see); 403 for changing a shared view without the right. The id is a
    parameter, not part of the path, because a view belongs to a person, not to an
    organisation whose data the security walk could fill in.
    """
    raw = request.POST.get("view") or request.GET.get("view") or ""
    if not raw.isdigit():
        raise Http404("No such view")
    try:
        view = visible_saved_views(request).get(pk=int(raw))
    except SavedView.DoesNotExist:
        raise Http404("No such view") from None
    org = view.filters().get("organisation", "")
    if view.is_shared and org.isdigit() and not request.permset.sees_organisation(int(org)):
        raise Http404("No such view")
    if edit and view.is_shared and not request.permset.has(MANAGE):
        raise PermissionDenied(_("Only support managers change the shared views."))
    return view


def _group(view: SavedView):
    if view.is_shared:
        return SavedView.objects.filter(is_shared=True)
    return SavedView.objects.filter(is_shared=False, owner_id=view.owner_id)


def _errors(request: HttpRequest, form: SavedViewForm) -> None:
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


@agent_required
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    """ "Save this view": the current filters and sort under a name."""
    form = _form(request, request.POST)
    if not form.is_valid():
        _errors(request, form)
        return redirect(_safe_next(request) or reverse("console:queue"))
    data = form.cleaned_data
    shared = bool(data.get("shared"))
    with transaction.atomic():
        group = (
            SavedView.objects.filter(is_shared=True)
            if shared
            else SavedView.objects.filter(is_shared=False, owner=request.user)
        )
        last = group.aggregate(m=Max("position"))["m"]
        view = SavedView.objects.create(
            name=data["name"].strip(),
            owner=request.user,
            is_shared=shared,
            query=data["query"],
            sort=data["sort"],
            position=0 if last is None else last + 1,
        )
    messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    return redirect(reverse("console:queue") + "?" + view.url_query())


@agent_required
def saved_views(request: HttpRequest) -> HttpResponse:
    views = list(visible_saved_views(request))
    hidden = set()
    for view in views:
        org = view.filters().get("organisation", "")
        if view.is_shared and org.isdigit() and not request.permset.sees_organisation(int(org)):
            hidden.add(view.pk)
    views = [v for v in views if v.pk not in hidden]
    for view in views:
        view.sort_label = SORTS[view.sort][2] if view.sort in SORTS else ""
    return render(
        request,
        "console/saved_views.html",
        {
            "shared": [v for v in views if v.is_shared],
            "mine": [v for v in views if not v.is_shared],
            "may_share": request.permset.has(MANAGE),
            "nav": "queue",
        },
    )


@agent_required
def saved_view_edit(request: HttpRequest) -> HttpResponse:
    view = get_view_for_user(request, edit=True)
    if request.method == "POST":
        form = _form(request, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            view.name = data["name"].strip()
            view.query = data["query"]
            view.sort = data["sort"]
            if "shared" in form.fields and bool(data.get("shared")) != view.is_shared:
                view.is_shared = bool(data.get("shared"))
                last = _group(view).exclude(pk=view.pk).aggregate(m=Max("position"))["m"]
                view.position = 0 if last is None else last + 1
            view.save()
            messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
            return redirect("console:views")
    else:
        form = _form(
            request,
            initial={
                "name": view.name,
                "query": view.query,
                "sort": view.sort,
                "shared": view.is_shared,
            },
        )
    return render(
        request,
        "console/saved_view.html",
        {"form": form, "view": view, "nav": "queue"},
        status=400 if form.is_bound else 200,
    )


@agent_required
@require_POST
def saved_view_delete(request: HttpRequest) -> HttpResponse:
    view = get_view_for_user(request, edit=True)
    view.delete()
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return redirect(_safe_next(request) or reverse("console:views"))


@agent_required
@require_POST
def saved_view_move(request: HttpRequest) -> HttpResponse:
    """Up or down one place within its list (the user's own, or the shared one)."""
    view = get_view_for_user(request, edit=True)
    step = -1 if request.POST.get("direction") == "up" else 1
    with transaction.atomic():
        ordered = list(_group(view).select_for_update().order_by("position", "pk"))
        i = next(i for i, v in enumerate(ordered) if v.pk == view.pk)
        j = i + step
        if 0 <= j < len(ordered):
            ordered[i], ordered[j] = ordered[j], ordered[i]
        for position, item in enumerate(ordered):
            if item.position != position:
                item.position = position
                item.save(update_fields=["position"])
    return redirect(_safe_next(request) or reverse("console:views"))
