"""Roles and what each may do.

Staff roles are Django groups carrying permissions; customer roles come from
``tenancy.Membership`` (per organisation, because one person may work for several
customers). ``PermSet`` folds both into one object computed once per request, which views,
the workflow table and templates consult, so a rule is written in exactly one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from aftercare.accounts.models import User


class Role(models.TextChoices):
    CUSTOMER = "customer", _("Customer user")
    COORDINATOR = "coordinator", _("Customer coordinator")
    OPERATOR = "operator", _("L1 operator")
    CONSULTANT = "consultant", _("L2 consultant")
    DEVELOPER = "developer", _("Developer")
    MANAGER = "manager", _("Support manager")
    ADMIN = "admin", _("Administrator")


# A ticket role, not a group: the staff member who did the work on one request (its
# assignee, or on an unassigned request the only staff member who answered the customer).
# The workflow lets them close what they solved (an operator's consultation answered on
# the phone) without making every operator a solver.
WORKER = "worker"

STAFF_ROLES = (Role.OPERATOR, Role.CONSULTANT, Role.DEVELOPER, Role.MANAGER, Role.ADMIN)
CUSTOMER_ROLES = (Role.CUSTOMER, Role.COORDINATOR)

# The group that carries each staff role. Names are stable identifiers, not UI text.
GROUP_NAMES = {
    Role.OPERATOR: "L1 operators",
    Role.CONSULTANT: "L2 consultants",
    Role.DEVELOPER: "Developers",
    Role.MANAGER: "Support managers",
    Role.ADMIN: "Administrators",
}

_AGENT = [
    "desk.view_all_tickets",
    "desk.view_internal_note",
    "desk.add_internal_note",
    "tenancy.view_organisation",
    "tenancy.view_system",
    "tenancy.view_contactperson",
    "tenancy.view_contract",
    "desk.request_approval",
    "saas.view_migration",
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.OPERATOR: [
        *_AGENT,
        "mail.triage_mail",
        "desk.open_ticket_on_behalf",
        "desk.triage_ticket",
        "desk.reprioritise_ticket",
        "desk.assign_ticket",
        "desk.escalate_ticket",
    ],
    Role.CONSULTANT: [
        *_AGENT,
        "saas.manage_migration",
        "desk.open_ticket_on_behalf",
        "desk.triage_ticket",
        "desk.reprioritise_ticket",
        "desk.assign_ticket",
    ],
    Role.DEVELOPER: [*_AGENT, "desk.assign_ticket"],
    Role.MANAGER: [
        *_AGENT,
        "saas.manage_migration",
        "mail.triage_mail",
        "desk.open_ticket_on_behalf",
        "desk.triage_ticket",
        "desk.reprioritise_ticket",
        "desk.assign_ticket",
        "desk.escalate_ticket",
        "desk.view_reports",
    ],
    Role.ADMIN: [
        *_AGENT,
        "saas.manage_migration",
        "mail.triage_mail",
        "desk.open_ticket_on_behalf",
        "desk.triage_ticket",
        "desk.reprioritise_ticket",
        "desk.assign_ticket",
        "desk.escalate_ticket",
        "desk.view_reports",
        "tenancy.add_organisation",
        "tenancy.change_organisation",
        # A global webhook receives every organisation's events: administrators only.
        "webhooks.view_subscription",
        "webhooks.add_subscription",
        "webhooks.change_subscription",
        "webhooks.delete_subscription",
        "webhooks.view_delivery",
        # The failures page (every organisation's failed jobs, mail and deliveries).
        "monitoring.view_failedjob",
        "monitoring.retry_failedjob",
    ],
}
# Projects (go-live plans, snag lists): every agent views them; consultants, managers and
# administrators manage projects; managers and administrators edit the plan templates.
ROLE_PERMISSIONS[Role.OPERATOR] += ["projects.view_project"]
ROLE_PERMISSIONS[Role.DEVELOPER] += ["projects.view_project"]
ROLE_PERMISSIONS[Role.CONSULTANT] += ["projects.view_project", "projects.change_project"]
for _role in (Role.MANAGER, Role.ADMIN):
    ROLE_PERMISSIONS[_role] += [
        "projects.view_project",
        "projects.change_project",
        "projects.change_plantemplate",
    ]
# Lifecycle (environments, releases, deployments): every agent views them; consultants,
# developers, managers and administrators record deployments; managers and administrators
# manage releases and environments and approve emergency changes.
for _role in STAFF_ROLES:
    ROLE_PERMISSIONS[_role] += ["lifecycle.view_environment"]
for _role in (Role.CONSULTANT, Role.DEVELOPER, Role.MANAGER, Role.ADMIN):
    ROLE_PERMISSIONS[_role] += ["lifecycle.add_deployment"]
for _role in (Role.MANAGER, Role.ADMIN):
    ROLE_PERMISSIONS[_role] += [
        "lifecycle.add_release",
        "lifecycle.change_release",
        "lifecycle.add_environment",
        "lifecycle.change_environment",
        "lifecycle.approve_emergency_deployment",
    ]
# Availability (downtime records): every agent views them; operators, consultants,
# managers and administrators record and correct them.
for _role in STAFF_ROLES:
    ROLE_PERMISSIONS[_role] += ["availability.view_downtime"]
for _role in (Role.OPERATOR, Role.CONSULTANT, Role.MANAGER, Role.ADMIN):
    ROLE_PERMISSIONS[_role] += ["availability.add_downtime", "availability.change_downtime"]
# Canned answers (the composer's prepared replies): managers and administrators keep them.
for _role in (Role.MANAGER, Role.ADMIN):
    ROLE_PERMISSIONS[_role] += [
        f"desk.{verb}_cannedanswer" for verb in ("view", "add", "change", "delete")
    ]

# Knowledge base: every agent reads articles (restricted agents only of their customers'
# products); operators, consultants, managers and administrators write them.
for _role in STAFF_ROLES:
    ROLE_PERMISSIONS[_role] += ["kb.view_article"]
for _role in (Role.OPERATOR, Role.CONSULTANT, Role.MANAGER, Role.ADMIN):
    ROLE_PERMISSIONS[_role] += ["kb.add_article", "kb.change_article"]

# The queue's shared views (the sidebar every agent sees): managers and administrators
# curate them; every agent keeps personal views of their own.
for _role in (Role.MANAGER, Role.ADMIN):
    ROLE_PERMISSIONS[_role] += ["console.manage_shared_views"]

# The console's settings pages (what managers change weekly): SLA plans and calendars,
# mailboxes, customer organisations and customer users. Staff users (granting staff
# roles, i.e. changing who is in these groups) are for administrators only, as are
# webhooks (above). Restricted agents are refused the global objects in the views.
for _role in (Role.MANAGER, Role.ADMIN):
    ROLE_PERMISSIONS[_role] += [
        *(f"sla.{verb}_slaplan" for verb in ("view", "add", "change", "delete")),
        *(f"sla.{verb}_calendar" for verb in ("view", "add", "change", "delete")),
        *(f"mail.{verb}_mailbox" for verb in ("view", "add", "change", "delete")),
        "accounts.view_user",
        "accounts.add_user",
        "accounts.change_user",
    ]
ROLE_PERMISSIONS[Role.MANAGER] += ["tenancy.add_organisation", "tenancy.change_organisation"]
ROLE_PERMISSIONS[Role.ADMIN] += ["auth.change_group"]


def sync_role_groups(**kwargs: Any) -> None:
    """Create the staff groups and give them exactly their permissions (idempotent)."""
    from django.contrib.auth.models import Group, Permission

    wanted = {perm for perms in ROLE_PERMISSIONS.values() for perm in perms}
    by_name = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type")
        if f"{p.content_type.app_label}.{p.codename}" in wanted
    }
    if len(by_name) < len(wanted):
        return  # not all apps migrated yet; the last post_migrate call completes it
    for role, group_name in GROUP_NAMES.items():
        group, _created = Group.objects.get_or_create(name=group_name)
        group.permissions.set([by_name[p] for p in ROLE_PERMISSIONS[role]])


# One PermSet per person while a request (or a follow-up job) runs, so the services,
# the API and the notification rules it passes through ask the database once.
_shared: ContextVar[dict[int, PermSet] | None] = ContextVar("aftercare_permsets", default=None)


@contextmanager
def shared_permsets() -> Iterator[None]:
    """Within this block ``PermSet(user)`` returns the same instance for the same person.

    Entered by ``UserPreferencesMiddleware`` for each request and by the follow-up job for
    each change. Any change to roles, memberships, restrictions or a person's row forgets
    them all (``forget_permsets``), so a check after a change sees it."""
    if _shared.get() is not None:
        yield
        return
    token = _shared.set({})
    try:
        yield
    finally:
        _shared.reset(token)


def forget_permsets(*args: Any, **kwargs: Any) -> None:
    shared = _shared.get()
    if shared:
        shared.clear()


@dataclass(init=False)
class PermSet:
    """What one user may do, computed once per request."""

    user: User
    _cache: dict[str, Any] = field(default_factory=dict)

    def __new__(cls, user: User | None) -> PermSet:
        shared = _shared.get()
        pk = getattr(user, "pk", None)
        if shared is not None and pk is not None:
            known = shared.get(pk)
            if known is not None:
                return known
            made = super().__new__(cls)
            shared[pk] = made
            return made
        return super().__new__(cls)

    def __init__(self, user: User | None) -> None:
        if "_cache" in self.__dict__:
            return  # the request's shared instance for this person, already built
        self.user = user  # type: ignore[assignment]
        self._cache = {}

    @cached_property
    def is_authenticated(self) -> bool:
        return bool(self.user and self.user.is_authenticated and self.user.is_active)

    @cached_property
    def perms(self) -> frozenset[str]:
        if not self.is_authenticated:
            return frozenset()
        user = self.user
        if user.is_superuser or hasattr(user, "_perm_cache"):
            return frozenset(user.get_all_permissions())
        # Django's ModelBackend asks twice (the person's own, then their groups'); one
        # query gives the same set, and is kept where ``user.has_perm`` looks for it.
        from django.contrib.auth.models import Permission
        from django.db.models import Q

        rows = Permission.objects.filter(Q(user=user) | Q(group__user=user)).values_list(
            "content_type__app_label", "codename"
        )
        perms = {f"{app}.{codename}" for app, codename in rows}
        user._perm_cache = perms
        return frozenset(perms)

    @cached_property
    def staff_roles(self) -> frozenset[str]:
        if not self.is_authenticated:
            return frozenset()
        names = set(self.user.groups.values_list("name", flat=True))
        roles = {role for role, name in GROUP_NAMES.items() if name in names}
        if self.user.is_superuser:
            roles.add(Role.ADMIN)
        return frozenset(roles)

    @cached_property
    def is_agent(self) -> bool:
        return "desk.view_all_tickets" in self.perms

    @cached_property
    def memberships(self) -> dict[int, str]:
        """Organisation id -> customer role, for the organisations the user belongs to."""
        if not self.is_authenticated:
            return {}
        from aftercare.tenancy.models import Membership

        rows = Membership.objects.with_scopes_disabled().filter(
            user=self.user, organisation__is_active=True
        )
        return dict(rows.values_list("organisation_id", "role"))

    @cached_property
    def coordinator_of(self) -> frozenset[int]:
        return frozenset(o for o, r in self.memberships.items() if r == Role.COORDINATOR)

    @cached_property
    def agent_restricted_to(self) -> frozenset[int] | None:
        """None when the agent sees every organisation; else the organisations allowed."""
        from aftercare.tenancy.models import AgentRestriction

        ids = AgentRestriction.objects.filter(user=self.user).values_list(
            "organisation_id", flat=True
        )
        ids = frozenset(ids)
        return ids or None

    @cached_property
    def organisation_scope(self) -> list[int] | None:
        """The value for django-scopes' ``organisation`` dimension.

        ``None`` means every organisation (an unrestricted agent); a list means exactly
        those (possibly none, which makes every tenant query empty).
        """
        if self.is_agent:
            restricted = self.agent_restricted_to
            return None if restricted is None else sorted(restricted)
        return sorted(self.memberships)

    def has(self, perm: str) -> bool:
        return perm in self.perms

    def sees_organisation(self, organisation_id: int | None) -> bool:
        """Whether this user may see anything of one organisation at all.

        An unrestricted agent sees every organisation; a restricted agent only those it
        is restricted to; a customer only the organisations they are a member of.
        """
        if not self.is_authenticated or organisation_id is None:
            return False
        if self.is_agent:
            restricted = self.agent_restricted_to
            return restricted is None or organisation_id in restricted
        return organisation_id in self.memberships

    def may_view_ticket(self, ticket: Any) -> bool:
        """The row-level twin of ``desk.querysets.visible_tickets`` (for one ticket in
        memory: notifications, mail intake, jobs). Keep the two in step."""
        if not self.is_authenticated:
            return False
        if self.is_agent:
            return self.sees_organisation(ticket.organisation_id)
        if ticket.organisation_id in self.coordinator_of:
            return True
        if ticket.organisation_id not in self.memberships:
            return False
        return ticket.reporter_id == self.user.pk or self.is_copied_on(ticket)

    def is_copied_on(self, ticket: Any) -> bool:
        """A customer contact copied (CC) on a request of their organisation sees it and
        may take part, like its reporter."""
        cache = self._cache.setdefault("cc", {})
        if ticket.pk not in cache:
            from aftercare.notifications.models import Follower

            cache[ticket.pk] = Follower.objects.filter(
                ticket_id=ticket.pk, user_id=self.user.pk, role=Follower.Role.CC
            ).exists()
        return cache[ticket.pk]

    def did_the_work(self, ticket: Any) -> bool:
        """Whether this agent is the one working a request: its assignee, or, while nobody
        is assigned, the only staff member who has answered the customer on it.

        A request assigned to someone else is never this agent's to close, however many
        replies they wrote (an operator cannot close what a consultant is working on).
        """
        if ticket.assignee_id is not None:
            return ticket.assignee_id == self.user.pk
        if ticket.pk is None:
            return False
        cache = self._cache.setdefault("worker", {})
        if ticket.pk not in cache:
            from django.db.models import Q

            from aftercare.desk.models import Message

            staff = Q(author__is_superuser=True) | Q(
                author__groups__name__in=list(GROUP_NAMES.values())
            )
            authors = set(
                Message.objects.with_scopes_disabled()
                .filter(ticket_id=ticket.pk, kind=Message.Kind.PUBLIC)
                .filter(staff)
                .values_list("author_id", flat=True)
                .distinct()
            )
            cache[ticket.pk] = authors == {self.user.pk}
        return cache[ticket.pk]

    def ticket_roles(self, ticket: Any) -> frozenset[str]:
        """The roles this user acts in on one ticket (for the workflow table).

        Empty when the user may not see the ticket: a restricted agent has no staff role
        on another organisation's request, on any path (pages, API, mail, jobs).
        """
        if not self.is_authenticated:
            return frozenset()
        roles = set()
        if self.is_agent and self.sees_organisation(ticket.organisation_id):
            roles.update(self.staff_roles)
            if roles and self.did_the_work(ticket):
                roles.add(WORKER)
        member_role = self.memberships.get(ticket.organisation_id)
        if member_role == Role.COORDINATOR:
            roles.update({Role.COORDINATOR, Role.CUSTOMER})
        elif member_role == Role.CUSTOMER and (
            ticket.reporter_id == self.user.pk or self.is_copied_on(ticket)
        ):
            roles.add(Role.CUSTOMER)
        return frozenset(roles)
