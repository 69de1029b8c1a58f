from django.urls import path

from aftercare.search import views

app_name = "search"
urlpatterns = [
    path("console/search/", views.console_search, name="console"),
    path("portal/search/", views.portal_search, name="portal"),
]
