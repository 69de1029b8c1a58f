"""Read unread mail from the configured IMAP mailboxes now (the worker does it every minute)."""

from __future__ import annotations

from django.core.management.base import CommandError

from aftercare.mail.imap import fetch_mailbox
from aftercare.mail.models import Mailbox
from aftercare.ops.maintenance import WritingCommand
from aftercare.tenancy.scoping import system_scope


class Command(WritingCommand):
    help = "Fetch unread mail from IMAP mailboxes and turn it into requests and replies."

    def add_arguments(self, parser):
        parser.add_argument("--mailbox", help="Only this mailbox (its name).")
        parser.add_argument("--limit", type=int, help="At most this many messages per mailbox.")

    def handle(self, *args, mailbox=None, limit=None, **options):
        boxes = Mailbox.objects.filter(is_active=True)
        if mailbox:
            boxes = boxes.filter(name=mailbox)
            if not boxes.exists():
                raise CommandError(f"No active mailbox named {mailbox!r}.")
        failed = False
        with system_scope():
            for box in boxes:
                counts = fetch_mailbox(box, limit=limit)
                failed = failed or "error" in counts
                summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no new mail"
                self.stdout.write(f"{box.name}: {summary}")
        if failed:
            raise CommandError("Some mailboxes could not be read; see their last error.")
