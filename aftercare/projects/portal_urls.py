from django.urls import path

from aftercare.projects import views

app_name = "project_portal"
urlpatterns = [
    path("", views.portal_list, name="list"),
    path("<int:project_id>/", views.portal_detail, name="detail"),
]
