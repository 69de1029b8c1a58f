"""Staff pages, one module a room: queue and board, the request page, requests for callers,
customers, reports. The names below are what ``console/urls.py`` and other apps import."""

from aftercare.console.views.bulk import bulk
from aftercare.console.views.common import agent_required
from aftercare.console.views.customers import organisation_detail, organisations
from aftercare.console.views.intake import callers, new_ticket
from aftercare.console.views.live import ticket_canned, ticket_changes
from aftercare.console.views.queue import _filtered, board, board_move, queue, queue_counts
from aftercare.console.views.reports import notifications, reports
from aftercare.console.views.request import ticket_detail
from aftercare.console.views.saved import (
    saved_view_create,
    saved_view_delete,
    saved_view_edit,
    saved_view_move,
    saved_views,
)

__all__ = [
    "_filtered",
    "agent_required",
    "board",
    "board_move",
    "callers",
    "bulk",
    "new_ticket",
    "notifications",
    "organisation_detail",
    "organisations",
    "queue",
    "queue_counts",
    "reports",
    "saved_view_create",
    "saved_view_delete",
    "saved_view_edit",
    "saved_view_move",
    "saved_views",
    "ticket_canned",
    "ticket_changes",
    "ticket_detail",
]
