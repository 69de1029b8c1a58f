"""SLA plans (with their targets, edited as a grid) and business calendars.

Both serve every organisation, so an agent restricted to some organisations is refused
them. Changing a plan's targets recomputes the deadlines of its open requests, as the
admin does; a calendar change reaches the clocks through the calendar cache (keyed on
``updated_at``), so the calendar row is saved whenever its extra days change.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.admin.models import CHANGE
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftercare.console.settings_forms import CalendarForm, SlaPlanForm, SlaTargetsForm
from aftercare.console.views.common import agent_required
from aftercare.console.views.settings._base import (
    Section,
    audit,
    render_page,
)
from aftercare.desk.models import Category
from aftercare.sla.models import Calendar, SlaPlan


def recompute_open_requests(plan: SlaPlan) -> int:
    from aftercare.desk.models import Ticket
    from aftercare.sla import services

    tickets = Ticket.objects.open().filter(sla_clocks__plan=plan).distinct()
    count = 0
    for ticket in tickets.select_related("organisation", "contract__sla_plan"):
        services.recompute(ticket)
        count += 1
    return count


class PlanSection(Section):
    key = "sla-plans"
    title = gettext_lazy("SLA plans")
    add_title = gettext_lazy("New SLA plan")
    model = SlaPlan
    view_perm = "sla.view_slaplan"
    add_perm = "sla.add_slaplan"
    change_perm = "sla.change_slaplan"
    delete_perm = "sla.delete_slaplan"
    list_template = "console/settings/sla_plans.html"
    url_kwarg = "plan_id"
    edit_template = "console/settings/sla_plan_edit.html"

    @classmethod
    def list_rows(cls, request: HttpRequest):
        return (
            SlaPlan.objects.select_related("calendar")
            .annotate(target_count=Count("targets", distinct=True))
            .order_by("-is_default", "name")
        )

    @classmethod
    def form(cls, request: HttpRequest, obj, data=None):
        return SlaPlanForm(data, instance=obj)

    @classmethod
    def save(cls, request: HttpRequest, form, obj):
        plan = form.save()
        if plan.is_default:
            SlaPlan.objects.exclude(pk=plan.pk).filter(is_default=True).update(is_default=False)
        if obj is not None and form.changed_data:
            recompute_open_requests(plan)
        return plan

    @classmethod
    def edit_context(cls, request: HttpRequest, obj) -> dict[str, Any]:
        if obj is None:
            return {}
        targets = sorted(obj.targets.all(), key=lambda t: (t.category, t.priority))
        return {"targets": targets, "categories": Category.choices}

    @classmethod
    def delete_blocker(cls, request: HttpRequest, obj) -> str:
        if obj.is_default:
            return _("This is the default plan: make another plan the default first.")
        from aftercare.tenancy.models import Contract

        if Contract.objects.with_scopes_disabled().filter(sla_plan=obj).exists():
            return _("Contracts use this plan: give them another plan first.")
        return ""


class CalendarSection(Section):
    key = "calendars"
    title = gettext_lazy("Business calendars")
    add_title = gettext_lazy("New business calendar")
    model = Calendar
    view_perm = "sla.view_calendar"
    add_perm = "sla.add_calendar"
    change_perm = "sla.change_calendar"
    delete_perm = "sla.delete_calendar"
    list_template = "console/settings/calendars.html"
    url_kwarg = "calendar_id"
    edit_template = "console/settings/calendar_edit.html"

    @classmethod
    def list_rows(cls, request: HttpRequest):
        return Calendar.objects.annotate(exception_count=Count("exceptions")).order_by("name")

    @classmethod
    def form(cls, request: HttpRequest, obj, data=None):
        return CalendarForm(data, instance=obj)

    @classmethod
    def save(cls, request: HttpRequest, form, obj):
        calendar = form.save()
        if form.save_exceptions():
            calendar.save(update_fields=["updated_at"])  # the cache key of the clocks
        return calendar

    @classmethod
    def delete_blocker(cls, request: HttpRequest, obj) -> str:
        if SlaPlan.objects.filter(calendar=obj).exists():
            return _("SLA plans use this calendar: give them another one first.")
        return ""


@agent_required
def plan_targets(request: HttpRequest, plan_id: int) -> HttpResponse:
    """One category's targets of a plan, a row per priority (``?category=``; empty =
    any category, the row used when no category-specific one exists)."""
    plan = PlanSection.fetch(request, plan_id)
    category = request.GET.get("category", "")
    if category and category not in Category.values:
        category = ""
    editable = PlanSection.may_change(request, plan)
    if request.method == "POST" and not editable:
        raise PermissionDenied(_("You may only look at this."))
    form = SlaTargetsForm(
        request.POST if request.method == "POST" else None, plan=plan, category=category
    )
    if not editable:
        for field in form.fields.values():
            field.disabled = True
    status = 200
    if request.method == "POST":
        if form.is_valid():
            with transaction.atomic():
                changed = form.save()
                if changed:
                    label = Category(category).label if category else _("any category")
                    audit(
                        request,
                        plan,
                        CHANGE,
                        [
                            _("Targets (%(category)s): %(p)s")
                            % {"category": label, "p": ", ".join(changed)}
                        ],
                    )
            if changed:
                count = recompute_open_requests(plan)
                messages.success(
                    request,
                    _("Targets saved; deadlines of %(count)d open requests recomputed.")
                    % {"count": count},
                )
            else:
                messages.info(request, _("Nothing changed."))
            url = PlanSection.url("targets", plan.pk)
            return redirect(f"{url}?category={category}" if category else url)
        status = 400
        messages.error(request, _("Please correct the errors below."))
    counts: dict[str, int] = {}
    for target in plan.targets.all():
        counts[target.category or ""] = counts.get(target.category or "", 0) + 1
    tabs = [
        {"value": value, "label": label, "count": counts.get(value, 0)}
        for value, label in [("", _("Any category")), *Category.choices]
    ]
    return render_page(
        request,
        "console/settings/sla_targets.html",
        PlanSection,
        {
            "plan": plan,
            "form": form,
            "category": category,
            "tabs": tabs,
            "editable": editable,
            "title": _("Targets of %(plan)s") % {"plan": plan},
        },
        status=status,
    )
