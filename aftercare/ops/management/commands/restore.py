"""Restore an archive: ``aftercare restore ARCHIVE [--force]`` (see docs/operations.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from aftercare.ops.restore import RestoreError, restore_archive


class Command(BaseCommand):
    help = "Restore a backup archive into this (migrated, empty) instance."

    def add_arguments(self, parser):
        parser.add_argument("archive", help="The .tar.gz written by `aftercare backup`.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace all data even though the instance is not empty.",
        )

    def handle(self, *args, archive: str, force: bool, **options):
        try:
            manifest = restore_archive(archive, force=force)
        except RestoreError as exc:
            raise CommandError(f"Restore refused: {exc}") from exc
        self.stdout.write(
            f"Restored {manifest['restored_rows']} rows and {len(manifest['media'])} files "
            f"from a {manifest['engine']} backup of {manifest['created_at']}."
        )
