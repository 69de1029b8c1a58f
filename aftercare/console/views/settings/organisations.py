"""Customer organisations: name, code, country, time zone, language, mail domains, active.

Deactivating stands in for deleting (requests, contracts and history stay). An agent
restricted to some organisations edits only those and creates none (a new organisation
would be outside their reach at once); others do not exist for them (404).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from aftercare.console.settings_forms import OrganisationForm
from aftercare.console.views.settings._base import Section, is_restricted
from aftercare.tenancy.models import Contract, Organisation
from aftercare.tenancy.querysets import visible_organisations

PAGE_SIZE = 100


class OrganisationSection(Section):
    key = "organisations"
    title = gettext_lazy("Organisations")
    add_title = gettext_lazy("New organisation")
    model = Organisation
    view_perm = "tenancy.view_organisation"
    add_perm = "tenancy.add_organisation"
    change_perm = "tenancy.change_organisation"
    global_objects = False
    list_template = "console/settings/organisations.html"
    url_kwarg = "code"
    url_converter = "slug"
    lookup = "code"
    edit_template = "console/settings/organisation_edit.html"

    @classmethod
    def may_enter(cls, request: HttpRequest) -> bool:
        # Every agent may view organisations; the settings page is for those who edit.
        return super().may_enter(request) and request.permset.has(cls.change_perm)

    @classmethod
    def may_add(cls, request: HttpRequest) -> bool:
        return super().may_add(request) and not is_restricted(request)

    @classmethod
    def queryset(cls, request: HttpRequest):
        return visible_organisations(request.permset)

    @classmethod
    def list_rows(cls, request: HttpRequest):
        rows = cls.queryset(request).annotate(people=Count("memberships", distinct=True))
        q = request.GET.get("q", "").strip()
        if q:
            rows = rows.filter(
                Q(name__icontains=q) | Q(code__icontains=q) | Q(mail_domains__icontains=q)
            )
        return rows.order_by("-is_active", "name")[:PAGE_SIZE]

    @classmethod
    def form(cls, request: HttpRequest, obj, data=None):
        return OrganisationForm(data, instance=obj)

    @classmethod
    def edit_context(cls, request: HttpRequest, obj) -> dict[str, Any]:
        if obj is None:
            return {}
        contracts = Contract.objects.filter(organisation=obj).select_related("sla_plan")
        return {"contracts": list(contracts)}
