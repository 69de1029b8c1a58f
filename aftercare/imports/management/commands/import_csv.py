"""``aftercare import-csv FILE.csv --organisation CODE``: requests from a spreadsheet.

Every row is checked first; bad rows are listed with their line numbers and, unless
``--skip-bad-rows``, nothing is imported. Columns: docs/import-export.md.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from aftercare.imports.csvio import CsvFileError, import_csv
from aftercare.ops.maintenance import WritingCommand
from aftercare.tenancy.models import Organisation
from aftercare.tenancy.scoping import system_scope


class Command(WritingCommand):
    dry_run_in_maintenance = True  # a dry run writes nothing
    help = "Import requests from a CSV file (UTF-8, comma or semicolon) into one organisation."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The CSV file.")
        parser.add_argument(
            "--organisation", required=True, help="Short code of the customer organisation."
        )
        parser.add_argument(
            "--skip-bad-rows",
            action="store_true",
            help="Import the good rows even if some rows are bad (they are listed).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and count only; write nothing."
        )

    def handle(self, *args, file, organisation, skip_bad_rows, dry_run, **options):
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(
                _("Cannot read %(path)s: %(error)s") % {"path": file, "error": exc}
            ) from exc
        with system_scope():
            org = Organisation.objects.filter(code=organisation).first()
            if org is None:
                raise CommandError(
                    _("No organisation with the short code “%(code)s”.") % {"code": organisation}
                )
            try:
                outcome = import_csv(data, org, skip_bad_rows=skip_bad_rows, dry_run=dry_run)
            except CsvFileError as exc:
                raise CommandError(f"{file}: {exc}") from exc
        for warning in outcome.warnings:
            self.stderr.write(warning)
        for bad in outcome.bad:
            self.stderr.write(str(bad))
        self.stdout.write(
            _(
                "Rows: %(rows)d read, %(created)d new, %(updated)d changed, "
                "%(unchanged)d unchanged, %(bad)d bad"
            )
            % {
                "rows": outcome.rows,
                "created": outcome.created,
                "updated": outcome.updated,
                "unchanged": outcome.unchanged,
                "bad": len(outcome.bad),
            }
        )
        if dry_run:
            self.stdout.write(_("Dry run: nothing was written."))
            return
        if outcome.bad and not skip_bad_rows:
            raise CommandError(
                _(
                    "%(n)d bad row(s); nothing was imported. Fix them, or run again with "
                    "--skip-bad-rows to import the other rows."
                )
                % {"n": len(outcome.bad)}
            )
        if outcome.bad:
            self.stdout.write(
                _("%(n)d bad row(s) skipped; the others were imported.") % {"n": len(outcome.bad)}
            )
