from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "aftercare.sla"
    label = "sla"
    verbose_name = _("Service levels")

    def ready(self) -> None:
        from aftercare.desk.signals import ticket_changed, ticket_opening
        from aftercare.sla import receivers

        ticket_opening.connect(receivers.on_ticket_opening, dispatch_uid="sla.on_ticket_opening")
        ticket_changed.connect(receivers.on_ticket_changed, dispatch_uid="sla.on_ticket_changed")
