from django.urls import path

from aftercare.saas import views

app_name = "saas"

urlpatterns = [
    path("", views.migration_list, name="list"),
    path("<int:migration_id>/", views.migration_detail, name="detail"),
    path("<int:migration_id>/link/", views.migration_link, name="link"),
    path("<int:migration_id>/convert/", views.migration_convert, name="convert"),
    path("<int:migration_id>/offers/new/", views.offer_new, name="offer-new"),
    path("<int:migration_id>/schedule/", views.migration_schedule, name="schedule"),
    path("<int:migration_id>/checklist/<str:step>/", views.checklist_tick, name="tick"),
    path(
        "<int:migration_id>/checklist/<str:step>/undo/",
        views.checklist_untick,
        name="untick",
    ),
    path("<int:migration_id>/extras/", views.extra_add, name="extra-add"),
    path("<int:migration_id>/statement/", views.statement_issue, name="statement-issue"),
    path("<int:migration_id>/statement.pdf", views.statement_pdf, name="statement-pdf"),
    path("offers/<int:offer_id>/", views.offer_edit, name="offer-edit"),
    path("offers/<int:offer_id>/send/", views.offer_send, name="offer-send"),
    path("offers/<int:offer_id>/undo/", views.offer_undo, name="offer-undo"),
    path("offers/<int:offer_id>/pdf/", views.offer_pdf, name="offer-pdf"),
    path("extras/<int:extra_id>/delete/", views.extra_delete, name="extra-delete"),
]
