from django.urls import path

from aftercare.channels import views

app_name = "channels"
urlpatterns = [
    path("", views.inbox, name="inbox"),
]
