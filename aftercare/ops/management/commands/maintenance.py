"""Read-only maintenance mode: ``aftercare maintenance on|off|status [--message TEXT]``."""

from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand

from aftercare.ops import maintenance


class Command(BaseCommand):
    help = "Switch read-only maintenance mode on or off, or show it."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["on", "off", "status"])
        parser.add_argument("--message", help="Shown in the banner (e.g. until when).")

    def handle(self, *args, action: str, message: str | None, **options):
        if action != "status":
            try:
                who = getpass.getuser()
            except (KeyError, OSError):
                who = "command line"
            maintenance.switch(action == "on", message=message, by=f"{who} (command line)")
        current = maintenance.state(fresh=True)
        line = "on" if current.on else "off"
        if current.message:
            line += f" — {current.message}"
        if current.changed_at:
            line += f" (changed {current.changed_at:%Y-%m-%d %H:%M:%S} UTC"
            line += f" by {current.changed_by})" if current.changed_by else ")"
        self.stdout.write(f"Maintenance mode: {line}")
