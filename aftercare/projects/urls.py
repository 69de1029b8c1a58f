from django.urls import path

from aftercare.projects import views

app_name = "projects"
urlpatterns = [
    path("", views.project_list, name="list"),
    path("new/", views.project_new, name="new"),
    path("templates/", views.template_editor, name="templates"),
    path("<int:project_id>/", views.project_detail, name="detail"),
    path("<int:project_id>/snags/", views.snag_list, name="snags"),
]
