from django.urls import include, path

from aftercare.console import views

app_name = "console"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("board/", views.board, name="board"),
    path("bulk/", views.bulk, name="bulk"),
    path("queue/counts/", views.queue_counts, name="queue-counts"),
    path("views/", views.saved_views, name="views"),
    path("views/new/", views.saved_view_create, name="view-create"),
    path("views/edit/", views.saved_view_edit, name="view-edit"),
    path("views/delete/", views.saved_view_delete, name="view-delete"),
    path("views/move/", views.saved_view_move, name="view-move"),
    path("new/", views.new_ticket, name="ticket-new"),
    path("callers/", views.callers, name="callers"),
    path("tickets/<str:number>/", views.ticket_detail, name="ticket"),
    path("tickets/<str:number>/move/", views.board_move, name="ticket-move"),
    path("tickets/<str:number>/changes/", views.ticket_changes, name="ticket-changes"),
    path("tickets/<str:number>/canned/", views.ticket_canned, name="ticket-canned"),
    path("tickets/<str:number>/link/", views.ticket_link, name="ticket-link"),
    path("tickets/<str:number>/unlink/", views.ticket_unlink, name="ticket-unlink"),
    path("tickets/<str:number>/merge/", views.ticket_merge, name="ticket-merge"),
    path("tickets/<str:number>/people/", views.ticket_people, name="ticket-people"),
    path("tickets/<str:number>/mentions/", views.ticket_mentions, name="ticket-mentions"),
    path("organisations/", views.organisations, name="organisations"),
    path("reports/", views.reports, name="reports"),
    path("settings/", include("aftercare.console.urls_settings")),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("reports/time/", views.time_report, name="time-report"),
    path("tickets/<str:number>/time/", views.time_add, name="time-add"),
    path("tickets/<str:number>/sla/extend/", views.sla_extend, name="ticket-sla-extend"),
    path("tickets/<str:number>/time/edit/", views.time_edit, name="time-edit"),
    path("tickets/<str:number>/time/delete/", views.time_delete, name="time-delete"),
    path("notifications/", views.notifications, name="notifications"),
    path("organisations/<slug:code>/", views.organisation_detail, name="organisation"),
]
