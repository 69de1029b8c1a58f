from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TimeTrackingConfig(AppConfig):
    name = "aftercare.timetracking"
    label = "timetracking"
    verbose_name = _("Time tracking")
