from django.urls import path

from aftercare.console import views

app_name = "console"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("board/", views.board, name="board"),
    path("new/", views.new_ticket, name="ticket-new"),
    path("tickets/<str:number>/", views.ticket_detail, name="ticket"),
    path("tickets/<str:number>/move/", views.board_move, name="ticket-move"),
    path("organisations/", views.organisations, name="organisations"),
    path("reports/", views.reports, name="reports"),
    path("notifications/", views.notifications, name="notifications"),
    path("organisations/<slug:code>/", views.organisation_detail, name="organisation"),
]
