from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ArtefactsConfig(AppConfig):
    name = "aftercare.artefacts"
    label = "artefacts"
    verbose_name = _("Documents and files")
