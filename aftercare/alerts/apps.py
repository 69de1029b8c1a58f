from django.apps import AppConfig
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "aftercare.alerts"
    label = "alerts"
    verbose_name = _("Monitoring alerts")

    def ready(self) -> None:
        # How the request's timeline names this app's system notes (the desk's table of
        # event texts is open to the apps that write events, as mail and imports do).
        from aftercare.desk import timeline

        timeline.ACTION_TEXT.update(
            {
                "alerts.alert.opened": lambda: gettext("opened from a monitoring alert"),
                "alerts.alert.repeated": lambda: gettext("monitoring alert fired again"),
                "alerts.alert.fired_again": lambda: gettext("monitoring alert fires again"),
                "alerts.alert.resolved": lambda: gettext("monitoring alert resolved"),
                "alerts.alert.follow_up": lambda: gettext("follows an earlier alert's request"),
            }
        )
