"""``aftercare contact-export EMAIL|USERNAME [--output FILE]``: everything about a person.

Without ``--output`` the JSON goes to standard output; a FILE ending in ``.zip`` gets
``data.json`` and the files they uploaded, any other name the JSON alone.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from aftercare.accounts import privacy


class Command(BaseCommand):
    help = "Export all data about one person (GDPR access request) as JSON or a zip."

    def add_arguments(self, parser) -> None:
        parser.add_argument("person", help="user name or e-mail address")
        parser.add_argument("--output", "-o", help="file to write (.zip for JSON + files)")

    def handle(self, *args, person: str, output: str | None = None, **options) -> None:
        user = privacy.find_person(person)
        if user is None:
            raise CommandError(f"No single user with the user name or e-mail {person!r}.")
        data = privacy.collect(user)
        privacy.record_export(user, actor=None, reason="management command")
        if not output:
            self.stdout.write(privacy.to_json(data))
            return
        path = Path(output)
        if path.suffix.lower() == ".zip":
            path.write_bytes(privacy.to_zip(data))
        else:
            path.write_text(privacy.to_json(data), encoding="utf-8")
        self.stderr.write(f"Wrote {path} ({path.stat().st_size} bytes).")
