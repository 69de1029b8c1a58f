from django.urls import path

from aftercare.kb import portal_views

app_name = "kb_portal"
urlpatterns = [
    path("", portal_views.article_list, name="list"),
    path("suggest/", portal_views.suggest, name="suggest"),
    path("<int:article_id>/", portal_views.article_detail, name="detail"),
    path("<int:article_id>/solved/", portal_views.solved, name="solved"),
]
