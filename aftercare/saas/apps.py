from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SaasConfig(AppConfig):
    name = "aftercare.saas"
    verbose_name = _("SaaS migrations")

    def ready(self) -> None:
        from aftercare.mail import ingest
        from aftercare.saas.mailhook import offer_reply

        if offer_reply not in ingest.REPLY_HOOKS:
            ingest.REPLY_HOOKS.append(offer_reply)
