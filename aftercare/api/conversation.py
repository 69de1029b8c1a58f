"""The conversation on a request: public replies, internal notes and their files.

Reads go through ``visible_messages``/``visible_attachments`` (customers never get an
internal note or its files); writes through ``services.reply``; downloads through the
same view the pages use, so the checks and the response headers are that view's.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from aftercare.api._common import keyset_page, responses, ticket_for
from aftercare.api.schemas import AttachmentOut, CommentIn, CommentOut
from aftercare.desk import services
from aftercare.desk import views as desk_views
from aftercare.desk.attachments import validate_uploads
from aftercare.desk.models import Attachment, Channel, Message
from aftercare.desk.querysets import visible_attachments, visible_messages

router = Router(tags=["conversation"])


class CommentPage(Schema):
    items: list[CommentOut]
    next_cursor: str | None
    prev_cursor: str | None


class PageQuery(Schema):
    after: str | None = None
    before: str | None = None
    limit: int | None = Field(None, ge=1)


def _with_files(message: Message, files: list[Attachment]) -> Message:
    message.visible_attachments = files  # type: ignore[attr-defined]
    return message


@router.get(
    "/tickets/{number}/comments",
    response=responses({200: CommentPage}, 404, 422),
    url_name="comment-list",
    summary="Read the conversation",
)
def list_comments(request: HttpRequest, number: str, page: Query[PageQuery]):
    """Oldest first. Customers get public replies only; staff with the right also get
    internal notes (`kind` = `internal`)."""
    permset = request.permset  # type: ignore[attr-defined]
    ticket = ticket_for(request, number)
    qs = visible_messages(permset, ticket).prefetch_related(
        Prefetch(
            "attachments",
            queryset=visible_attachments(permset, ticket),
            to_attr="visible_attachments",
        )
    )
    result = keyset_page(
        qs,
        "created_at",
        descending=False,
        limit=page.limit,
        after=page.after,
        before=page.before,
    )
    return {
        "items": result.rows,
        "next_cursor": result.next_cursor,
        "prev_cursor": result.prev_cursor,
    }


@router.post(
    "/tickets/{number}/comments",
    response=responses({201: CommentOut}, 400, 403, 404, 422),
    url_name="comment-create",
    summary="Reply, or add an internal note",
)
def create_comment(request: HttpRequest, number: str, payload: CommentIn):
    """A public reply (anyone on the request) or an internal note (`internal`: staff with
    the right). A customer's reply to a request waiting for them moves it back."""
    ticket = ticket_for(request, number)
    message = services.reply(
        ticket=ticket,
        actor=request.user,
        body=payload.body,
        internal=payload.internal,
        channel=Channel.API,
    )
    return Status(201, _with_files(message, []))


@router.get(
    "/tickets/{number}/attachments",
    response=responses({200: list[AttachmentOut]}, 404),
    url_name="attachment-list",
    summary="List the files of a request",
)
def list_attachments(request: HttpRequest, number: str):
    ticket = ticket_for(request, number)
    return list(visible_attachments(request.permset, ticket))  # type: ignore[attr-defined]


@router.post(
    "/tickets/{number}/attachments",
    response=responses({201: list[AttachmentOut]}, 400, 403, 404, 422),
    url_name="attachment-upload",
    summary="Upload files to a request",
)
def upload_attachments(
    request: HttpRequest,
    number: str,
    files: File[list[UploadedFile]],
    body: Form[str] = "",
    internal: Form[bool] = False,
):
    """Multipart: one or more `files`, with an optional message `body` (default: the file
    names). The files pass the same checks as on the pages (type, size, signature);
    `internal` files go with an internal note and are hidden from customers."""
    ticket = ticket_for(request, number)
    try:
        validate_uploads(list(files))
    except ValidationError as exc:
        raise ValidationError({"files": exc.messages}) from None
    text = body.strip() or ", ".join(f.name or "" for f in files)
    message = services.reply(
        ticket=ticket,
        actor=request.user,
        body=text,
        internal=internal,
        channel=Channel.API,
        attachments=files,
    )
    return Status(201, list(message.attachments.order_by("pk")))


@router.get(
    "/attachments/{int:pk}",
    response=responses({}, 404),
    url_name="attachment-download",
    summary="Download a file",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The file, as an attachment download.",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def download_attachment(request: HttpRequest, pk: int):
    """The file itself, served by the same view as the pages' download links."""
    return desk_views.attachment(request, pk)
