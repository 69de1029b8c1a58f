from django.urls import path

from aftercare.lifecycle import views

app_name = "lifecycle"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("releases/", views.releases, name="releases"),
    path("releases/<int:release_id>/", views.release_detail, name="release"),
    path("releases/<int:release_id>/rollout/", views.rollout_new, name="rollout-new"),
    path("rollouts/", views.rollouts, name="rollouts"),
    path("rollouts/<int:rollout_id>/", views.rollout_detail, name="rollout"),
    path("organisations/<slug:code>/", views.organisation, name="organisation"),
    path("environments/<int:environment_id>/", views.environment_detail, name="environment"),
]
