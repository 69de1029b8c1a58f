from django.urls import path

from aftercare.kb import views

app_name = "kb"
urlpatterns = [
    path("", views.article_list, name="list"),
    path("new/", views.article_new, name="new"),
    path("from-request/<str:number>/", views.from_ticket, name="from-ticket"),
    path("<int:article_id>/", views.article_detail, name="detail"),
    path("<int:article_id>/edit/", views.article_edit, name="edit"),
]
