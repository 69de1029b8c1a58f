"""Write a backup archive now: ``aftercare backup [--output DIR]`` (see docs/operations.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from aftercare.ops.backup import BackupError, create_backup


class Command(BaseCommand):
    help = "Back up the database (native and portable) and all attachments into one archive."

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", help="Folder for the archive (default: AFTERCARE_BACKUP_DIR)."
        )

    def handle(self, *args, output=None, **options):
        try:
            path = create_backup(output)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(str(path))
