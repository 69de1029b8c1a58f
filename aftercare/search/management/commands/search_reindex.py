"""Rebuild the full-text index from the requests, their messages and files."""

from __future__ import annotations

from aftercare.ops.maintenance import WritingCommand
from aftercare.search.indexer import index_tickets, rebuild
from aftercare.tenancy.scoping import system_scope


class Command(WritingCommand):
    help = (
        "Rebuild the search index (all requests, or the given numbers). Safe to repeat; "
        "searches keep working, but find less until the rebuild ends."
    )

    def add_arguments(self, parser):
        parser.add_argument("numbers", nargs="*", help="Only these requests (e.g. AC-2026-000123).")

    def handle(self, *args, numbers=(), **options):
        from aftercare.desk.models import Ticket

        with system_scope():
            if numbers:
                ids = list(Ticket.objects.filter(number__in=numbers).values_list("pk", flat=True))
                written = index_tickets(ids)
                self.stdout.write(
                    self.style.SUCCESS(f"{len(ids)} request(s) reindexed, {written} document(s)")
                )
                return
            total = rebuild(progress=self._progress)
        self.stdout.write(self.style.SUCCESS(f"{total} request(s) indexed"))

    def _progress(self, done: int) -> None:
        if done % 10_000 == 0:
            self.stdout.write(f"{done} …")
