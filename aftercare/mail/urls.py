from django.urls import path

from aftercare.mail import views

app_name = "mail"
urlpatterns = [
    path("", views.mail_log, name="log"),
    path("inbound/<int:inbound_id>/", views.inbound_detail, name="inbound"),
    path("outbound/<int:outbound_id>/retry/", views.outbound_retry, name="outbound-retry"),
]
