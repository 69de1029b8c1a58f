from django.urls import path

from aftercare.monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("", views.failure_list, name="failure-list"),
    path("retry/", views.failure_retry, name="failure-retry"),
]
