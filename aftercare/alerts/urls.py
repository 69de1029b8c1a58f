from django.urls import path

from aftercare.alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.integration_list, name="list"),
    path("<int:integration_id>/", views.integration_detail, name="integration"),
    path("<int:integration_id>/revoke/", views.integration_revoke, name="integration-revoke"),
    path("received/<int:payload_id>/", views.payload_detail, name="payload"),
]
