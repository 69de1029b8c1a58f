"""Users: customer users (managers) and staff (administrators).

* Managers create and edit customer users and see staff read-only; administrators
  (``auth.change_group``: they decide who is in the staff groups) edit staff too.
* Nobody grants a role above their own, edits someone ranked above them, or changes
  their own role or deactivates themselves.
* An agent restricted to some organisations sees only customer users all of whose
  organisations are among theirs; anyone else does not exist for them (404). They give
  and take memberships only of their organisations.
* A new person gets an unusable password and, if asked, the password-reset mail, whose
  link lets them choose one.
"""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import HttpRequest
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftercare.accounts.models import User
from aftercare.accounts.roles import GROUP_NAMES, Role
from aftercare.console.settings_forms import ROLE_RANK, UserForm, rank
from aftercare.console.views.settings._base import Section, is_restricted
from aftercare.tenancy.models import AgentRestriction, Membership
from aftercare.tenancy.querysets import visible_organisations

log = logging.getLogger(__name__)
PAGE_SIZE = 100
MANAGE_STAFF = "auth.change_group"
_ROLE_BY_GROUP = {name: role for role, name in GROUP_NAMES.items()}


def staff_role_of(user: User) -> str:
    """The highest staff role (uses prefetched groups when there are)."""
    if user.is_superuser:
        return Role.ADMIN
    roles = [_ROLE_BY_GROUP[g.name] for g in user.groups.all() if g.name in _ROLE_BY_GROUP]
    return max(roles, key=rank, default="")


def editor_rank(request: HttpRequest) -> int:
    return max((ROLE_RANK[r] for r in request.permset.staff_roles), default=0)


def grantable_roles(request: HttpRequest) -> list[str]:
    if not request.permset.has(MANAGE_STAFF) or is_restricted(request):
        return []
    mine = editor_rank(request)
    return [role for role in GROUP_NAMES if ROLE_RANK[role] <= mine]


def _memberships() -> Any:
    return Membership.objects.with_scopes_disabled()


def send_invitation(request: HttpRequest, user: User) -> bool:
    """The password-reset mail (its link lets them choose a password), in their language."""
    from aftercare.accounts.forms import ThrottledPasswordResetForm

    context = {
        "email": user.email,
        "user": user,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
        "base_url": settings.AFTERCARE_BASE_URL,
        "hours": max(1, settings.PASSWORD_RESET_TIMEOUT // 3600),
        "protocol": "https" if request.is_secure() else "http",
        "domain": request.get_host(),
        "site_name": "Aftercare",
    }
    try:
        ThrottledPasswordResetForm(request=request).send_mail(
            "accounts/email/password_reset_subject.txt",
            "accounts/email/password_reset.txt",
            context,
            None,
            user.email,
        )
    except (OSError, smtplib.SMTPException):
        log.exception("could not send an invitation")
        return False
    return True


class UserSection(Section):
    key = "users"
    title = gettext_lazy("Users")
    add_title = gettext_lazy("New user")
    model = User
    view_perm = "accounts.view_user"
    add_perm = "accounts.add_user"
    change_perm = "accounts.change_user"
    global_objects = False
    list_template = "console/settings/users.html"
    url_kwarg = "user_id"
    edit_template = "console/settings/user_edit.html"

    @classmethod
    def queryset(cls, request: HttpRequest):
        users = User.objects.all()
        allowed = request.permset.agent_restricted_to
        if allowed is None:
            return users
        mine = _memberships().filter(user=OuterRef("pk"), organisation_id__in=allowed)
        elsewhere = _memberships().filter(user=OuterRef("pk")).exclude(organisation_id__in=allowed)
        return (
            users.filter(Exists(mine))
            .exclude(Exists(elsewhere))
            .exclude(is_superuser=True)
            .exclude(groups__name__in=list(GROUP_NAMES.values()))
        )

    @classmethod
    def list_rows(cls, request: HttpRequest):
        rows = cls.queryset(request)
        q = request.GET.get("q", "").strip()
        if q:
            rows = rows.filter(
                Q(username__icontains=q)
                | Q(first_name__icontains=q)
                | Q(last_name__icontains=q)
                | Q(email__icontains=q)
            )
        staff = Q(is_superuser=True) | Q(groups__name__in=list(GROUP_NAMES.values()))
        kind = request.GET.get("kind", "")
        if kind == "staff":
            rows = rows.filter(staff)
        elif kind == "customer":
            rows = rows.exclude(staff)
        memberships = _memberships().select_related("organisation").order_by("organisation__name")
        allowed = request.permset.agent_restricted_to
        if allowed is not None:
            memberships = memberships.filter(organisation_id__in=allowed)
        rows = list(
            rows.distinct()
            .order_by("-is_active", "first_name", "last_name", "username")
            .prefetch_related("groups", Prefetch("memberships", queryset=memberships))[
                : PAGE_SIZE + 1
            ]
        )
        for row in rows:
            row.staff_role = staff_role_of(row)
            row.role_label = Role(row.staff_role).label if row.staff_role else ""
            row.editable = cls.may_change(request, row)
        return rows

    @classmethod
    def may_change(cls, request: HttpRequest, obj: User) -> bool:
        if not request.permset.has(cls.change_perm):
            return False
        role = getattr(obj, "staff_role", None)
        role = staff_role_of(obj) if role is None else role
        if not role:
            return True
        return request.permset.has(MANAGE_STAFF) and rank(role) <= editor_rank(request)

    @classmethod
    def form(cls, request: HttpRequest, obj, data=None):
        organisations = visible_organisations(request.permset).order_by("name")
        roles = grantable_roles(request)
        initial: dict[str, Any] = {}
        current = ""
        if obj is not None:
            current = staff_role_of(obj)
            rows = _memberships().filter(user=obj, organisation__in=organisations)
            initial["member_of"] = [m.organisation_id for m in rows if m.role == Role.CUSTOMER]
            initial["coordinator_of"] = [
                m.organisation_id for m in rows if m.role == Role.COORDINATOR
            ]
            initial["restricted_to"] = list(
                AgentRestriction.objects.filter(user=obj).values_list("organisation_id", flat=True)
            )
        form = UserForm(
            data,
            instance=obj,
            initial=initial,
            roles=roles,
            organisations=organisations,
            current_role=current,
            lock_role=obj is not None and obj.pk == request.user.pk,
        )
        if obj is None:
            form.fields["invite"] = _invite_field()
        form.require_organisation = obj is None or is_restricted(request)
        return form

    @classmethod
    def save(cls, request: HttpRequest, form, obj):
        data = form.cleaned_data
        if obj is not None and obj.pk == request.user.pk and not data.get("is_active", True):
            raise PermissionDenied(_("You cannot deactivate yourself."))
        user = form.save(commit=False)
        if obj is None:
            user.set_unusable_password()
        user.save()
        organisations = list(form.fields["member_of"].queryset)
        ids = {o.pk for o in organisations}
        role = data.get("staff_role", "") if "staff_role" in form.fields else None
        if role is not None and not form.fields["staff_role"].disabled:
            if role and role not in grantable_roles(request):
                raise PermissionDenied(_("You may not grant this role."))
            staff_groups = Group.objects.filter(name__in=list(GROUP_NAMES.values()))
            user.groups.remove(*staff_groups)
            if role:
                user.groups.add(Group.objects.get(name=GROUP_NAMES[role]))
            wanted = {o.pk for o in data.get("restricted_to") or []} if role else set()
            AgentRestriction.objects.filter(user=user, organisation_id__in=ids).exclude(
                organisation_id__in=wanted
            ).delete()
            have = set(
                AgentRestriction.objects.filter(user=user).values_list("organisation_id", flat=True)
            )
            AgentRestriction.objects.bulk_create(
                AgentRestriction(user=user, organisation_id=o) for o in wanted - have
            )
        desired = {o.pk: Role.CUSTOMER for o in data.get("member_of") or []}
        desired.update({o.pk: Role.COORDINATOR for o in data.get("coordinator_of") or []})
        existing = {
            m.organisation_id: m for m in _memberships().filter(user=user, organisation_id__in=ids)
        }
        for org_id, membership in existing.items():
            if org_id not in desired:
                membership.delete()
            elif membership.role != desired[org_id]:
                membership.role = desired[org_id]
                membership.save(update_fields=["role"])
        _memberships().bulk_create(
            Membership(user=user, organisation_id=o, role=r)
            for o, r in desired.items()
            if o not in existing
        )
        form.invited = obj is None and bool(data.get("invite")) and bool(user.email)
        return user

    @classmethod
    def after_save(cls, request: HttpRequest, obj, created: bool, form):
        if getattr(form, "invited", False):
            if send_invitation(request, obj):
                messages.info(
                    request, _("An invitation was sent to %(email)s.") % {"email": obj.email}
                )
            else:
                messages.warning(
                    request, _("The invitation mail could not be sent; try again later.")
                )
        return None

    @classmethod
    def edit_context(cls, request: HttpRequest, obj) -> dict[str, Any]:
        context: dict[str, Any] = {"may_manage_staff": bool(grantable_roles(request))}
        if obj is not None:
            context["staff_role"] = staff_role_of(obj)
            allowed = request.permset.agent_restricted_to
            if allowed is None:
                hidden = 0
            else:
                hidden = (
                    _memberships().filter(user=obj).exclude(organisation_id__in=allowed).count()
                )
            context["hidden_memberships"] = hidden
        return context


def _invite_field():
    from django import forms

    return forms.BooleanField(
        label=_("Send an invitation by e-mail (a link to choose a password)"),
        required=False,
        initial=True,
    )
