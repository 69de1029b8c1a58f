from django.urls import path

from aftercare.saas import portal_views, public_views

app_name = "quote"

urlpatterns = [
    path("", public_views.quote, name="form"),
    path("thanks/", public_views.thanks, name="thanks"),
    # A capability URL from the offer mail: the signed token is the credential.
    path("offer/<str:offer_token>/", portal_views.offer_link, name="offer-link"),
]
