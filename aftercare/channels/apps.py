from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "aftercare.channels"
    label = "channels"
    verbose_name = _("Messengers")

    def ready(self) -> None:
        from aftercare.channels import outbound
        from aftercare.desk.signals import ticket_followup

        ticket_followup.connect(
            outbound.on_ticket_changed, dispatch_uid="channels.on_ticket_changed"
        )
