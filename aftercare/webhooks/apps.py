from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "aftercare.webhooks"
    label = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from aftercare.desk.signals import ticket_followup
        from aftercare.webhooks import events

        ticket_followup.connect(events.on_ticket_changed, dispatch_uid="webhooks.on_ticket_changed")
