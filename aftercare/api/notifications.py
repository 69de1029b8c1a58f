"""The bell over HTTP (each caller's own notifications), and who follows a request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from aftercare.accounts.models import User
from aftercare.api._common import keyset_page, responses, ticket_for
from aftercare.api.errors import ApiError
from aftercare.api.schemas import InSchema, UserRef
from aftercare.notifications import services
from aftercare.notifications.models import Follower
from aftercare.notifications.render import describe

router = Router(tags=["notifications"])
MAX_ID = 2**63 - 1  # the largest id a database stores; beyond it no row can match
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class NotificationOut(Schema):
    id: int
    kind: str
    text: str = Field(description="What happened, in the caller's language.")
    excerpt: str
    ticket: str | None = Field(None, description="The request's number.")
    actor: UserRef | None
    created_at: datetime
    read_at: datetime | None

    @staticmethod
    def resolve_text(obj) -> str:
        return describe(obj)

    @staticmethod
    def resolve_ticket(obj) -> str | None:
        return obj.ticket.number if obj.ticket_id else None


class NotificationPage(Schema):
    items: list[NotificationOut]
    unread: int
    next_cursor: str | None
    prev_cursor: str | None


class NotificationQuery(Schema):
    unread: bool = False
    after: str | None = None
    before: str | None = None
    limit: int | None = Field(None, ge=1)


class ReadIn(InSchema):
    ids: list[Id] = Field(default_factory=list, description="Notifications to mark read.")
    all: bool = Field(False, description="Mark every notification read.")


class ReadOut(Schema):
    marked: int
    unread: int


class FollowerOut(Schema):
    user: UserRef
    role: str = Field(description="`watcher` (staff) or `cc` (a customer contact).")
    created_at: datetime


class FollowerIn(InSchema):
    user_id: Id


@router.get(
    "/notifications",
    response=responses({200: NotificationPage}, 422),
    url_name="notification-list",
    summary="My notifications",
)
def list_notifications(request: HttpRequest, query: Query[NotificationQuery]):
    """Newest first; only about requests the caller may still see."""
    rows = services.for_user(request.user).select_related("ticket", "actor")
    if query.unread:
        rows = rows.filter(read_at__isnull=True)
    page = keyset_page(
        rows,
        "created_at",
        descending=True,
        limit=query.limit,
        after=query.after,
        before=query.before,
    )
    return {
        "items": page.rows,
        "unread": services.unread_count(request.user),
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
    }


@router.post(
    "/notifications/read",
    response=responses({200: ReadOut}, 422),
    url_name="notification-read",
    summary="Mark notifications read",
)
def read_notifications(request: HttpRequest, payload: ReadIn):
    if not payload.all and not payload.ids:
        raise ApiError(
            422, "validation_error", "Give `ids` or `all`.", fields={"ids": ["Required."]}
        )
    marked = services.mark_read(request.user, None if payload.all else payload.ids)
    return {"marked": marked, "unread": services.unread_count(request.user)}


@router.get(
    "/tickets/{number}/followers",
    response=responses({200: list[FollowerOut]}, 404),
    url_name="follower-list",
    summary="Watchers and CC of a request",
)
def list_followers(request: HttpRequest, number: str):
    ticket = ticket_for(request, number)
    rows = Follower.objects.filter(ticket=ticket).select_related("user")
    if not request.permset.is_agent:  # type: ignore[attr-defined]
        rows = rows.filter(role=Follower.Role.CC)  # customers do not see the desk's watchers
    return list(rows.order_by("created_at", "pk"))


def _person(user_id: int) -> User:
    user = None
    if 1 <= user_id <= MAX_ID:
        user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise ApiError(
            422, "validation_error", "No such person.", fields={"user_id": ["No such person."]}
        )
    return user


@router.post(
    "/tickets/{number}/followers",
    response=responses({201: FollowerOut}, 403, 404, 422),
    url_name="follower-add",
    summary="Add a watcher or a CC",
)
def add_follower(request: HttpRequest, number: str, payload: FollowerIn):
    """Staff add watchers (staff who may see the request) and CC (contacts of the request's
    organisation); the reporter or a coordinator may copy colleagues."""
    ticket = ticket_for(request, number)
    row = services.follow(ticket=ticket, actor=request.user, user=_person(payload.user_id))
    return Status(201, row)


@router.delete(
    "/tickets/{number}/followers/{user_id}",
    response=responses({204: None}, 403, 404),
    url_name="follower-remove",
    summary="Remove a watcher or a CC",
)
def remove_follower(request: HttpRequest, number: str, user_id: int):
    ticket = ticket_for(request, number)
    if not services.unfollow(ticket=ticket, actor=request.user, user=_person(user_id)):
        raise ApiError(404, "not_found", "Not following this request.")
    return Status(204, None)
