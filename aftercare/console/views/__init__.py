"""Staff pages, one module a room: queue and board, the request page, requests for callers,
customers, reports. The names below are what ``console/urls.py`` and other apps import."""

from aftercare.console.views.bulk import bulk
from aftercare.console.views.common import agent_required
from aftercare.console.views.customers import organisation_detail, organisations
from aftercare.console.views.dashboard import dashboard
from aftercare.console.views.intake import callers, new_ticket
from aftercare.console.views.links import ticket_link, ticket_merge, ticket_unlink
from aftercare.console.views.live import ticket_canned, ticket_changes
from aftercare.console.views.people import ticket_mentions, ticket_people
from aftercare.console.views.queue import _filtered, board, board_move, queue, queue_counts
from aftercare.console.views.reports import reports
from aftercare.console.views.request import ticket_detail
from aftercare.console.views.saved import (
    saved_view_create,
    saved_view_delete,
    saved_view_edit,
    saved_view_move,
    saved_views,
)
from aftercare.console.views.sla_extend import sla_extend
from aftercare.console.views.time import time_add, time_delete, time_edit, time_report
from aftercare.notifications.views import inbox

# The console's address of the bell's page: staff only, like every console page (customers
# use ``notifications:inbox``).
notifications = agent_required(inbox)

__all__ = [
    "_filtered",
    "agent_required",
    "board",
    "board_move",
    "callers",
    "dashboard",
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
    "ticket_mentions",
    "ticket_people",
    "ticket_changes",
    "ticket_detail",
    "ticket_link",
    "ticket_merge",
    "ticket_unlink",
    "sla_extend",
    "time_add",
    "time_delete",
    "time_edit",
    "time_report",
]
