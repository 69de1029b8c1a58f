"""Who and what the caller can reach: themself, organisations, systems, people."""

from __future__ import annotations

from typing import Literal

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from aftercare.accounts.models import User
from aftercare.accounts.querysets import agents, agents_seeing
from aftercare.accounts.roles import PermSet
from aftercare.api._common import keyset_page, require_agent, responses, ticket_for
from aftercare.api.errors import not_found
from aftercare.api.schemas import MeOut, OrganisationOut, SystemOut, UserOut, UserPage
from aftercare.tenancy.models import Membership, Organisation, System
from aftercare.tenancy.querysets import visible_organisations

router = Router(tags=["directory"])


def _memberships(memberships) -> list[dict]:
    return [
        {"organisation": m.organisation, "role": m.role}
        for m in sorted(memberships, key=lambda m: m.organisation.name)
    ]


@router.get("/me", response=responses({200: MeOut}), url_name="me", summary="Who am I")
def me(request: HttpRequest):
    """The caller, their permissions and their organisations (what the API will let
    them do follows from these)."""
    permset: PermSet = request.permset  # type: ignore[attr-defined]
    user = request.user
    rows = Membership.objects.filter(
        user=user, organisation__in=visible_organisations(permset)
    ).select_related("organisation")
    return {
        "id": user.pk,
        "username": user.username,
        "name": user.display_name,
        "email": user.email,
        "language": user.language,
        "time_zone": user.time_zone,
        "is_agent": permset.is_agent,
        "permissions": sorted(permset.perms),
        "staff_roles": sorted(str(r) for r in permset.staff_roles),
        "memberships": _memberships(rows),
    }


def _organisation(request: HttpRequest, code: str) -> Organisation:
    org = visible_organisations(request.permset).filter(code=code).first()  # type: ignore[attr-defined]
    if org is None:
        raise not_found()
    return org


@router.get(
    "/organisations",
    response=responses({200: list[OrganisationOut]}),
    url_name="organisation-list",
    summary="List organisations",
)
def list_organisations(request: HttpRequest):
    """The customer organisations the caller may see: their own for customers, those in
    reach for staff."""
    return list(visible_organisations(request.permset).order_by("name"))  # type: ignore[attr-defined]


@router.get(
    "/organisations/{code}",
    response=responses({200: OrganisationOut}, 404),
    url_name="organisation-detail",
    summary="Read an organisation",
)
def get_organisation(request: HttpRequest, code: str):
    return _organisation(request, code)


@router.get(
    "/organisations/{code}/systems",
    response=responses({200: list[SystemOut]}, 404),
    url_name="organisation-systems",
    summary="Systems of an organisation",
)
def list_systems(request: HttpRequest, code: str):
    """The licensed systems an organisation runs (what `system` on a request refers to)."""
    org = _organisation(request, code)
    return list(System.objects.filter(organisation=org).order_by("name"))


# -- people (staff only) --------------------------------------------------------------------


class UserFilters(Schema):
    q: str | None = Field(None, description="Part of the user name, e-mail or name.")
    kind: Literal["staff", "customer"] | None = None
    organisation: int | None = Field(
        None,
        description="People of this organisation id: its members, and (with `kind` "
        "`staff`) the staff who may see its requests.",
    )
    ticket: str | None = Field(
        None,
        description="Staff who may be assigned this request (by number): those who may "
        "see its organisation.",
    )
    after: str | None = None
    before: str | None = None
    limit: int | None = Field(None, ge=1)


def users_in_reach(permset: PermSet) -> QuerySet[User]:
    """Staff, and the members of the organisations the caller may see.

    Built from the existing rules (``agents()`` and ``visible_organisations``); a
    membership outside the caller's reach is never listed, so a restricted agent does not
    learn where else a customer works.
    """
    orgs = visible_organisations(permset)
    in_reach = Membership.objects.filter(organisation__in=orgs)
    return (
        User.objects.annotate(
            is_staff_member=Exists(agents().filter(pk=OuterRef("pk"))),
            in_reach=Exists(in_reach.filter(user=OuterRef("pk"))),
        )
        .filter(Q(is_staff_member=True) | Q(in_reach=True))
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=in_reach.select_related("organisation"),
                to_attr="reachable_memberships",
            )
        )
    )


def _user_out(user: User, *, roles: list[str] | None = None) -> dict:
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "is_active": user.is_active,
        "is_staff_member": user.is_staff_member,  # type: ignore[attr-defined]
        "roles": roles if roles is not None else [],
        "memberships": _memberships(user.reachable_memberships),  # type: ignore[attr-defined]
    }


@router.get(
    "/users",
    response=responses({200: UserPage}, 403, 404, 422),
    url_name="user-list",
    summary="List people (staff)",
)
def list_users(request: HttpRequest, filters: Query[UserFilters]):
    """Staff and the customers of the organisations in the caller's reach, by user name.
    `kind`: `staff` or `customer`; `organisation`: members of that organisation."""
    require_agent(request)
    permset = request.permset  # type: ignore[attr-defined]
    qs = users_in_reach(permset)
    if filters.kind == "staff":
        qs = qs.filter(is_staff_member=True)
    elif filters.kind == "customer":
        qs = qs.filter(in_reach=True)
    if filters.organisation is not None:
        members = Exists(
            Membership.objects.filter(
                organisation__in=visible_organisations(permset),
                organisation_id=filters.organisation,
                user=OuterRef("pk"),
            )
        )
        if filters.kind == "staff":
            # Staff of an organisation the caller sees: those who may see it too.
            seen = visible_organisations(permset).filter(pk=filters.organisation).exists()
            qs = qs.filter(pk__in=agents_seeing(filters.organisation if seen else None))
        else:
            qs = qs.filter(members)
    if filters.ticket:
        # The assignee look-up: staff who may see the request (404 if the caller may not).
        ticket = ticket_for(request, filters.ticket)
        qs = qs.filter(is_staff_member=True, pk__in=agents_seeing(ticket.organisation_id))
    text = (filters.q or "").strip()
    if text:
        qs = qs.filter(
            Q(username__icontains=text)
            | Q(email__icontains=text)
            | Q(first_name__icontains=text)
            | Q(last_name__icontains=text)
        )
    page = keyset_page(
        qs,
        "username",
        descending=False,
        limit=filters.limit,
        after=filters.after,
        before=filters.before,
    )
    return {
        "items": [_user_out(u) for u in page.rows],
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
    }


@router.get(
    "/users/{int:user_id}",
    response=responses({200: UserOut}, 403, 404),
    url_name="user-detail",
    summary="Read a person (staff)",
)
def get_user(request: HttpRequest, user_id: int):
    require_agent(request)
    user = users_in_reach(request.permset).filter(pk=user_id).first()  # type: ignore[attr-defined]
    if user is None:
        raise not_found()
    return _user_out(user, roles=sorted(str(r) for r in PermSet(user).staff_roles))
