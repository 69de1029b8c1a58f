from django.urls import path

from aftercare.artefacts import views

app_name = "artefacts_portal"
urlpatterns = [
    path("", views.portal_list, name="list"),
]
