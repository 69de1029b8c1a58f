from django.urls import path

from aftercare.portal import people, views

app_name = "portal"
urlpatterns = [
    path("", views.request_list, name="list"),
    path("new/", views.request_new, name="new"),
    path("reports/", views.reports, name="reports"),
    path("approvals/", views.approval_list, name="approvals"),
    path("requests/<str:number>/", views.request_detail, name="detail"),
    path("requests/<str:number>/people/", people.request_people, name="people"),
]
