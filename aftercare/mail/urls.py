from django.urls import path

from aftercare.mail import views

app_name = "mail"
urlpatterns = [
    path("approvals/<str:token>/", views.approval, name="approval"),
    path("", views.mail_log, name="log"),
    path("inbound/<int:pk>/", views.inbound_detail, name="inbound"),
    path("outbound/<int:pk>/retry/", views.outbound_retry, name="outbound-retry"),
]
