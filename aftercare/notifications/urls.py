from django.urls import path

from aftercare.notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:notification_id>/", views.open_one, name="open"),
    path("read/", views.mark_read, name="read"),
    path("bell/", views.bell, name="bell"),
    path("settings/", views.settings_page, name="settings"),
]
