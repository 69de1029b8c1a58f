from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "aftercare.monitoring"
    verbose_name = _("Monitoring")

    def ready(self) -> None:
        from aftercare.monitoring import jobs, tasks  # noqa: F401 - registers the heartbeat

        jobs.connect()
