"""Webhook subscriptions: administrators only (a global one receives every
organisation's events).

The signing secret is shown exactly once, on the page that answers the creation or a
"New secret" request; every other page shows only that a secret is set.
"""

from __future__ import annotations

from django.contrib.admin.models import CHANGE
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from aftercare.console.settings_forms import WebhookForm
from aftercare.console.views.common import agent_required
from aftercare.console.views.settings._base import Section, audit, render_page
from aftercare.tenancy.querysets import visible_organisations
from aftercare.webhooks.models import EventName, Subscription, new_secret


class WebhookSection(Section):
    key = "webhooks"
    title = gettext_lazy("Webhooks")
    add_title = gettext_lazy("New webhook")
    model = Subscription
    view_perm = "webhooks.view_subscription"
    add_perm = "webhooks.add_subscription"
    change_perm = "webhooks.change_subscription"
    delete_perm = "webhooks.delete_subscription"
    list_template = "console/settings/webhooks.html"
    url_kwarg = "webhook_id"
    edit_template = "console/settings/webhook_edit.html"

    @classmethod
    def list_rows(cls, request: HttpRequest):
        rows = list(Subscription.objects.select_related("organisation").order_by("name", "pk"))
        labels = dict(EventName.choices)
        for row in rows:
            row.event_labels = [str(labels.get(e, e)) for e in row.events or []]
        return rows

    @classmethod
    def form(cls, request: HttpRequest, obj, data=None):
        return WebhookForm(data, instance=obj, organisations=visible_organisations(request.permset))

    @classmethod
    def after_save(cls, request: HttpRequest, obj, created: bool, form) -> HttpResponse | None:
        if not created:
            return None
        return _show_secret(request, obj, created=True)


def _show_secret(
    request: HttpRequest, subscription: Subscription, *, created: bool
) -> HttpResponse:
    response = render_page(
        request,
        "console/settings/webhook_secret.html",
        WebhookSection,
        {"object": subscription, "secret": subscription.secret, "created": created},
    )
    response["Cache-Control"] = "no-store"
    return response


@agent_required
@require_POST
def webhook_rotate(request: HttpRequest, webhook_id: int) -> HttpResponse:
    """A new signing secret, shown once; the old one stops working at once."""
    subscription = WebhookSection.fetch(request, webhook_id)
    if not WebhookSection.may_change(request, subscription):
        raise PermissionDenied(_("You may not change this."))
    with transaction.atomic():
        subscription.secret = new_secret()
        subscription.save(update_fields=["secret"])
        audit(request, subscription, CHANGE, [str(_("Signing secret"))])
    return _show_secret(request, subscription, created=False)
