"""Staff pages, one module a room: queue and board, the request page, requests for callers,
customers, reports. The names below are what ``console/urls.py`` and other apps import."""

from aftercare.console.views.common import agent_required
from aftercare.console.views.customers import organisation_detail, organisations
from aftercare.console.views.intake import new_ticket
from aftercare.console.views.queue import _filtered, board, board_move, queue
from aftercare.console.views.reports import notifications, reports
from aftercare.console.views.request import ticket_detail

__all__ = [
    "_filtered",
    "agent_required",
    "board",
    "board_move",
    "new_ticket",
    "notifications",
    "organisation_detail",
    "organisations",
    "queue",
    "reports",
    "ticket_detail",
]
