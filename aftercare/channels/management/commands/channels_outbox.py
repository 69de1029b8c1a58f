"""``aftercare channels-outbox``: send the agents' replies to messenger chats that are due
(queued, or retrying after their back-off) once — what the periodic job does."""

from __future__ import annotations

from aftercare.ops.maintenance import WritingCommand
from aftercare.tenancy.scoping import system_scope


class Command(WritingCommand):
    help = "Send due replies to messenger chats once."

    def handle(self, *args, **options) -> None:
        from aftercare.channels.outbound import send_due

        with system_scope():
            counts = send_due()
        self.stdout.write("sent {sent}, retrying {retrying}, failed {failed}".format(**counts))
