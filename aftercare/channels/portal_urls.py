from django.urls import path

from aftercare.channels import views

app_name = "channels_portal"
urlpatterns = [
    path("", views.portal_page, name="messengers"),
]
