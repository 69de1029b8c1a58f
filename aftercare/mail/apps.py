from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "aftercare.mail"
    label = "mail"
    verbose_name = _("E-mail")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from aftercare.desk.signals import approval_requested, ticket_followup
        from aftercare.mail import notifications
        from aftercare.sla.models import Notification

        ticket_followup.connect(
            notifications.on_ticket_changed, dispatch_uid="mail.on_ticket_changed"
        )
        approval_requested.connect(
            notifications.on_approval_requested, dispatch_uid="mail.on_approval_requested"
        )
        post_save.connect(
            notifications.on_sla_notification,
            sender=Notification,
            dispatch_uid="mail.on_sla_notification",
        )
