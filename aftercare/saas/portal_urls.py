from django.urls import path

from aftercare.saas import portal_views

app_name = "saas_portal"

urlpatterns = [
    path("", portal_views.portal_list, name="list"),
    path("<int:migration_id>/", portal_views.portal_detail, name="detail"),
    path("<int:migration_id>/accept/", portal_views.portal_accept, name="accept"),
    path(
        "<int:migration_id>/statement.pdf", portal_views.portal_statement_pdf, name="statement-pdf"
    ),
    path("offers/<int:offer_id>/pdf/", portal_views.portal_offer_pdf, name="offer-pdf"),
    path("offers/<int:offer_id>/decide/", portal_views.portal_decide, name="decide"),
]
