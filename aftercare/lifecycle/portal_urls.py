from django.urls import path

from aftercare.lifecycle import views

app_name = "lifecycle_portal"
urlpatterns = [
    path("", views.portal_environments, name="environments"),
]
