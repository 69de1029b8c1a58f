from django.urls import path

from aftercare.availability import views

app_name = "availability"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("organisations/<slug:code>/", views.organisation, name="organisation"),
    path("organisations/<slug:code>/pdf/", views.organisation_pdf, name="organisation-pdf"),
    path("environments/<int:environment_id>/", views.environment, name="environment"),
    path("downtimes/<int:downtime_id>/", views.downtime, name="downtime"),
]
