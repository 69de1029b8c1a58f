"""What every settings section shares: who may enter, fetching one object, the audit.

A section is a small class (``Section``) naming its model, its permissions and its form;
``list_view``, ``edit_view`` and ``delete_view`` turn it into the three pages. The rules:

* customers never enter (the console gate); staff need the section's view permission;
* a *global* section (SLA plans, calendars, mailboxes, webhooks) is refused (403) to an
  agent restricted to some organisations: its objects serve every organisation;
* an object outside the section's queryset for this user is 404 (it does not exist for
  them); one they may see but not change is shown read-only, and a post is 403;
* every create, change and delete writes a ``LogEntry`` (the admin's history), naming
  the changed fields and never their values, so no secret reaches the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib import messages
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import ProtectedError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from aftercare.console.views.common import agent_required

if TYPE_CHECKING:
    from django import forms
    from django.db.models import Model, QuerySet


def is_restricted(request: HttpRequest) -> bool:
    return request.permset.agent_restricted_to is not None


def audit(request: HttpRequest, obj: Model, flag: int, fields: list[str] | None = None) -> None:
    """One admin-history row. ``fields`` are labels only, never values."""
    if flag == ADDITION:
        message: list[dict[str, Any]] = [{"added": {}}]
    elif flag == CHANGE:
        message = [{"changed": {"fields": [str(f) for f in fields or []]}}]
    else:
        message = [{"deleted": {}}]
    LogEntry.objects.log_actions(
        user_id=request.user.pk,
        queryset=[obj],
        action_flag=flag,
        change_message=message,
        single_object=True,
    )


def changed_labels(form: forms.Form) -> list[str]:
    return [
        str(form.fields[name].label or name) for name in form.changed_data if name in form.fields
    ]


class Section:
    """One settings section; subclasses fill in the blanks."""

    key: ClassVar[str]  # URL piece and name: settings-<key>
    title: ClassVar[Any]
    add_title: ClassVar[Any]
    model: ClassVar[type[Model]]
    view_perm: ClassVar[str]
    add_perm: ClassVar[str]
    change_perm: ClassVar[str]
    delete_perm: ClassVar[str | None] = None
    global_objects: ClassVar[bool] = True  # refused to restricted agents
    list_template: ClassVar[str]
    # How an object is named in its address: ``<converter:url_kwarg>`` matched against
    # ``lookup``. The security walk (tests/test_security_urls.py) fills each name.
    url_kwarg: ClassVar[str]
    url_converter: ClassVar[str] = "int"
    lookup: ClassVar[str] = "pk"
    edit_template: ClassVar[str] = "console/settings/edit.html"
    do_not_call_in_templates: ClassVar[bool] = True  # templates read ``section.key``

    # -- who may do what ------------------------------------------------------------
    @classmethod
    def may_enter(cls, request: HttpRequest) -> bool:
        permset = request.permset
        if not permset.is_agent or not permset.has(cls.view_perm):
            return False
        return not (cls.global_objects and is_restricted(request))

    @classmethod
    def may_add(cls, request: HttpRequest) -> bool:
        return request.permset.has(cls.add_perm)

    @classmethod
    def may_change(cls, request: HttpRequest, obj: Model) -> bool:
        return request.permset.has(cls.change_perm)

    @classmethod
    def may_delete(cls, request: HttpRequest, obj: Model) -> bool:
        return bool(cls.delete_perm) and request.permset.has(cls.delete_perm)

    @classmethod
    def check(cls, request: HttpRequest) -> None:
        if not cls.may_enter(request):
            raise PermissionDenied(_("You may not change these settings."))

    # -- rows -----------------------------------------------------------------------
    @classmethod
    def queryset(cls, request: HttpRequest) -> QuerySet:
        return cls.model.objects.all()

    @classmethod
    def list_rows(cls, request: HttpRequest) -> QuerySet:
        return cls.queryset(request)

    @classmethod
    def get_object(cls, request: HttpRequest, value: Any) -> Model:
        obj = cls.queryset(request).filter(**{cls.lookup: value}).first()
        if obj is None:
            raise Http404("No such object")
        return obj

    @classmethod
    def fetch(cls, request: HttpRequest, value: Any) -> Model:
        """One object for an address naming it: 404 when it does not exist *for this
        person* (a global object for a restricted agent, another organisation's person),
        checked before the permission, so a refusal never confirms it exists; then 403
        without the section's permission."""
        if cls.global_objects and is_restricted(request):
            raise Http404("No such object")
        obj = cls.get_object(request, value)
        cls.check(request)
        return obj

    @classmethod
    def key_of(cls, obj: Model) -> Any:
        return getattr(obj, cls.lookup)

    # -- the form ------------------------------------------------------------------
    @classmethod
    def form(cls, request: HttpRequest, obj: Model | None, data: Any = None) -> forms.Form:
        raise NotImplementedError

    @classmethod
    def save(cls, request: HttpRequest, form: forms.Form, obj: Model | None) -> Model:
        return form.save()

    @classmethod
    def after_save(
        cls, request: HttpRequest, obj: Model, created: bool, form: forms.Form
    ) -> HttpResponse | None:
        """A response to give instead of the redirect (e.g. a secret shown once)."""
        return None

    @classmethod
    def edit_context(cls, request: HttpRequest, obj: Model | None) -> dict[str, Any]:
        return {}

    @classmethod
    def delete_blocker(cls, request: HttpRequest, obj: Model) -> str:
        """Why this object may not be deleted now ('' if it may)."""
        return ""

    @classmethod
    def url(cls, name: str = "", *args: Any) -> str:
        suffix = f"-{name}" if name else ""
        return reverse(f"console:settings-{cls.key}{suffix}", args=args)


def sections() -> list[type[Section]]:
    from aftercare.console.views.settings import (
        canned,
        mailboxes,
        organisations,
        sla,
        users,
        webhooks,
    )

    return [
        sla.PlanSection,
        sla.CalendarSection,
        canned.CannedSection,
        mailboxes.MailboxSection,
        webhooks.WebhookSection,
        users.UserSection,
        organisations.OrganisationSection,
    ]


def menu(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {"key": s.key, "title": s.title, "url": s.url()} for s in sections() if s.may_enter(request)
    ]


def render_page(
    request: HttpRequest,
    template: str,
    section: type[Section] | None,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        template,
        {
            "nav": "settings",
            "settings_menu": menu(request),
            "section": section,
            "section_key": section.key if section else "home",
            **context,
        },
        status=status,
    )


def list_view(section: type[Section]):
    @agent_required
    def view(request: HttpRequest) -> HttpResponse:
        section.check(request)
        return render_page(
            request,
            section.list_template,
            section,
            {
                "rows": section.list_rows(request),
                "may_add": section.may_add(request),
                "title": section.title,
            },
        )

    view.__name__ = f"settings_{section.key}_list"
    return view


def edit_view(section: type[Section]):
    @agent_required
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        value = kwargs.get(section.url_kwarg)
        if value is None:
            section.check(request)
            obj = None
        else:
            obj = section.fetch(request, value)
        if obj is None and not section.may_add(request):
            raise PermissionDenied(_("You may not add these."))
        editable = obj is None or section.may_change(request, obj)
        if request.method == "POST" and not editable:
            raise PermissionDenied(_("You may only look at this."))
        form = section.form(request, obj, request.POST if request.method == "POST" else None)
        if not editable:
            for field in form.fields.values():
                field.disabled = True
        status = 200
        if request.method == "POST" and "_preview" in request.POST:
            form.is_valid()  # show the errors, save nothing
        elif request.method == "POST":
            if form.is_valid():
                with transaction.atomic():
                    saved = section.save(request, form, obj)
                    if obj is None:
                        audit(request, saved, ADDITION)
                    else:
                        fields = (
                            form.audit_fields
                            if hasattr(form, "audit_fields")
                            else changed_labels(form)
                        )
                        if fields:
                            audit(request, saved, CHANGE, fields)
                special = section.after_save(request, saved, obj is None, form)
                if special is not None:
                    return special
                messages.success(request, _("“%(name)s” saved.") % {"name": saved})
                return redirect(section.url())
            status = 400
            messages.error(request, _("Please correct the errors below."))
        return render_page(
            request,
            section.edit_template,
            section,
            {
                "form": form,
                "object": obj,
                "editable": editable,
                "may_delete": obj is not None and section.may_delete(request, obj),
                "object_key": section.key_of(obj) if obj is not None else None,
                "title": str(obj) if obj else section.add_title,
                **section.edit_context(request, obj),
            },
            status=status,
        )

    view.__name__ = f"settings_{section.key}_edit"
    return view


def delete_view(section: type[Section]):
    """GET: the confirmation; POST: delete (or refuse with the reason)."""

    @agent_required
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        obj = section.fetch(request, kwargs[section.url_kwarg])
        if not section.may_delete(request, obj):
            raise PermissionDenied(_("You may not delete this."))
        blocker = section.delete_blocker(request, obj)
        if request.method == "POST" and not blocker:
            name = str(obj)
            try:
                with transaction.atomic():
                    audit(request, obj, DELETION)
                    obj.delete()
            except ProtectedError:
                blocker = _("Something still uses it; change that first.")
            else:
                messages.success(request, _("“%(name)s” deleted.") % {"name": name})
                return redirect(section.url())
        return render_page(
            request,
            "console/settings/delete.html",
            section,
            {"object": obj, "blocker": blocker, "title": str(obj)},
            status=409 if blocker and request.method == "POST" else 200,
        )

    view.__name__ = f"settings_{section.key}_delete"
    return view
