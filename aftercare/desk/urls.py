from django.urls import path

from aftercare.desk import views

app_name = "desk"
urlpatterns = [
    path("attachments/<int:pk>/", views.attachment, name="attachment"),
]
