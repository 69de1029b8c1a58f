from django.urls import path

from aftercare.availability import views

app_name = "availability_portal"
urlpatterns = [
    path("", views.portal_index, name="index"),
    path("<slug:code>/", views.portal_organisation, name="organisation"),
    path("<slug:code>/pdf/", views.portal_pdf, name="pdf"),
]
