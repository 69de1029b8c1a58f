"""Restore an archive: ``aftercare restore ARCHIVE [--force]`` (see docs/operations.md).

Deliberately allowed in read-only maintenance mode: restoring is the operator's own
replacement of all data, and maintenance mode is exactly when it should run (nobody else
writes meanwhile). The switch is not part of an archive, so it stays as it is.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from aftercare.ops import maintenance
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
            on = maintenance.state(fresh=True).on
        except DatabaseError:
            on = False  # not migrated yet: restore_archive says what to do
        if on:
            self.stderr.write(
                "Maintenance (read-only) mode is on; restoring anyway (an operator's "
                "restore is allowed). It stays on: switch it off when you are done."
            )
        try:
            manifest = restore_archive(archive, force=force)
        except RestoreError as exc:
            raise CommandError(f"Restore refused: {exc}") from exc
        self.stdout.write(
            f"Restored {manifest['restored_rows']} rows and {len(manifest['media'])} files "
            f"from a {manifest['engine']} backup of {manifest['created_at']}."
        )
