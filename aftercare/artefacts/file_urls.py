from django.urls import path

from aftercare.artefacts import views

# Downloads are for staff and customers alike: the visibility rule decides (404).
app_name = "artefact_files"
urlpatterns = [
    path("<int:version_id>/", views.download, name="download"),
]
