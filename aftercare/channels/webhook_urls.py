from django.urls import path

from aftercare.channels import views

app_name = "channels_webhook"
urlpatterns = [
    path("telegram/webhook/<str:secret>/", views.telegram_webhook, name="telegram"),
]
