from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import include, path

from aftercare.mail import views as mail_views


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Staff land in the console, customers in the portal."""
    if request.permset.is_agent:
        return redirect("console:queue")
    return redirect("portal:list")


urlpatterns = [
    path("", home, name="home"),
    path("accounts/", include("aftercare.accounts.urls")),
    path("console/", include("aftercare.console.urls")),
    path("portal/", include("aftercare.portal.urls")),
    path("files/", include("aftercare.desk.urls")),
    path("api/", include("aftercare.api.urls")),
    path("mail/", include("aftercare.mail.urls")),
    # A capability URL from an e-mail: the signed token is the credential (no sign-in).
    path("approvals/<str:token>/", mail_views.approval, name="approval"),
    path("admin/", admin.site.urls),
]
