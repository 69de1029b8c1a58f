from django.urls import path

from aftercare.artefacts import views

app_name = "artefacts"
urlpatterns = [
    path("<str:target>/<int:target_id>/", views.target_page, name="target"),
]
