from django.urls import path

from aftercare.projects import portal_views

app_name = "project_portal"
urlpatterns = [
    path("", portal_views.portal_list, name="list"),
    path("<int:project_id>/", portal_views.portal_detail, name="detail"),
    path("<int:project_id>/sign/", portal_views.portal_sign, name="sign"),
]
