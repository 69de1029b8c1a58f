"""``aftercare contact-anonymise EMAIL|USERNAME --reason TEXT``: remove a person, keep
their requests (see ``aftercare.accounts.privacy``). Idempotent. An address with no user
account still has its contact-person records blanked and its mail scrubbed."""

from __future__ import annotations

from django.core.management.base import CommandError

from aftercare.accounts import privacy
from aftercare.ops.maintenance import WritingCommand


class Command(WritingCommand):
    help = "Anonymise a contact on request, keeping their requests intact."

    def add_arguments(self, parser) -> None:
        parser.add_argument("person", help="user name or e-mail address")
        parser.add_argument("--reason", required=True, help="why (kept in the audit trail)")

    def handle(self, *args, person: str, reason: str, **options) -> None:
        if not reason.strip():
            raise CommandError("Give a reason (--reason).")
        result = privacy.anonymise(person, actor=None, reason=reason.strip())
        if result.already:
            self.stdout.write(f"{result.user.username}: anonymised already, nothing to do.")
            return
        who = f"user #{result.user.pk} (now {result.user.username})" if result.user else person
        if result.user is None and not result.changed:
            self.stdout.write(f"{person}: no user, contact or mail found; nothing to do.")
            return
        self.stdout.write(f"Anonymised {who}.")
        for key, count in sorted(result.rows.items()):
            if count:
                self.stdout.write(f"  {key}: {count}")
