"""``aftercare export-csv [--organisation CODE] [--status …] > tickets.csv``."""

from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from aftercare.desk.models import Status, Ticket
from aftercare.imports.csvio import write_tickets
from aftercare.imports.progress import Raw
from aftercare.tenancy.models import Organisation
from aftercare.tenancy.scoping import system_scope


class Command(BaseCommand):
    help = "Write requests as CSV to standard output (columns: docs/import-export.md)."

    def add_arguments(self, parser):
        parser.add_argument("--organisation", help="Short code; default every organisation.")
        parser.add_argument(
            "--status",
            action="append",
            default=[],
            help="Only these statuses (repeat, or separate with commas).",
        )
        parser.add_argument(
            "--excel",
            action="store_true",
            help="Semicolons and a byte-order mark, as European Excel expects.",
        )

    def handle(self, *args, organisation=None, status=(), excel=False, **options):
        statuses = [s.strip() for value in status for s in value.split(",") if s.strip()]
        unknown = [s for s in statuses if s not in Status.values]
        if unknown:
            raise CommandError(
                _("Unknown status %(values)s (use one of: %(choices)s)")
                % {"values": ", ".join(unknown), "choices": ", ".join(Status.values)}
            )
        out = Raw(self.stdout)
        with system_scope():
            tickets = Ticket.objects.all()
            if organisation:
                org = Organisation.objects.filter(code=organisation).first()
                if org is None:
                    raise CommandError(
                        _("No organisation with the short code “%(code)s”.")
                        % {"code": organisation}
                    )
                tickets = tickets.filter(organisation=org)
            if statuses:
                tickets = tickets.filter(status__in=statuses)
            if excel:
                out.write("\ufeff")
            try:
                count = write_tickets(
                    tickets.order_by("created_at", "pk"), out, delimiter=";" if excel else ","
                )
            except BrokenPipeError:
                # The reader stopped early (`… | head`): not an error of the export.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return
        self.stderr.write(_("%(n)d request(s) exported") % {"n": count})
