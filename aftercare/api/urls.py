from django.urls import path

from aftercare.api import views
from aftercare.api.api import api

app_name = "api"
urlpatterns = [
    path("v1/", api.urls),
    path("docs", views.docs, name="docs"),
    path("tokens/", views.token_list, name="token-list"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
]
