from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.cache import cache_control

from aftercare.mail import views as mail_views
from aftercare.monitoring import views as monitoring_views


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Staff land in the console, customers in the portal."""
    if request.permset.is_agent:
        return redirect("console:queue")
    return redirect("portal:list")


@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page links; send them to the SVG icon."""
    return redirect(static("aftercare/favicon.svg"))


urlpatterns = [
    path("", home, name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("accounts/", include("aftercare.accounts.urls")),
    path("", include("aftercare.search.urls")),  # console/search/ and portal/search/
    path("console/", include("aftercare.console.urls")),
    path("notifications/", include("aftercare.notifications.urls")),
    path("portal/", include("aftercare.portal.urls")),
    path("files/", include("aftercare.desk.urls")),
    path("api/", include("aftercare.api.urls")),
    path("mail/", include("aftercare.mail.urls")),
    path("lifecycle/", include("aftercare.lifecycle.urls")),
    path("alerts/", include("aftercare.alerts.urls")),
    path("portal/environments/", include("aftercare.lifecycle.portal_urls")),
    path("availability/", include("aftercare.availability.urls")),
    path("portal/availability/", include("aftercare.availability.portal_urls")),
    path("kb/", include("aftercare.kb.urls")),
    path("portal/kb/", include("aftercare.kb.portal_urls")),
    path("projects/", include("aftercare.projects.urls")),
    path("portal/projects/", include("aftercare.projects.portal_urls")),
    path("saas/", include("aftercare.saas.urls")),
    path("portal/migrations/", include("aftercare.saas.portal_urls")),
    path("artefacts/", include("aftercare.artefacts.urls")),
    path("files/documents/", include("aftercare.artefacts.file_urls")),
    path("portal/documents/", include("aftercare.artefacts.portal_urls")),
    path("console/messengers/", include("aftercare.channels.urls")),
    path("portal/messengers/", include("aftercare.channels.portal_urls")),
    # Telegram's webhook: no sign-in; the secret in the address and header is checked.
    path("channels/", include("aftercare.channels.webhook_urls")),
    # The public quote request form, and the offer mail's capability link.
    path("quote/", include("aftercare.saas.public_urls")),
    # A capability URL from an e-mail: the signed token is the credential (no sign-in).
    path("approvals/<str:token>/", mail_views.approval, name="approval"),
    # Probes for load balancers and monitoring (no sign-in; docs/monitoring.md).
    path("healthz", monitoring_views.healthz, name="healthz"),
    path("readyz", monitoring_views.readyz, name="readyz"),
    path("monitoring/", include("aftercare.monitoring.urls")),
    path("admin/", admin.site.urls),
]

# A database outage is a 503 with Retry-After, not a 500 (aftercare/lib/database.py).
handler500 = "aftercare.lib.database.server_error"
