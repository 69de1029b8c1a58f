from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "aftercare.console"
    label = "console"
