from aftercare.desk.models import Ticket
from aftercare.ops.maintenance import WritingCommand
from aftercare.sla import services
from aftercare.tenancy.scoping import system_scope


class Command(WritingCommand):
    help = "Recompute deadlines of open requests (after changing plans, targets or calendars)."

    def handle(self, *args, **options):
        count = 0
        with system_scope():
            for ticket in (
                Ticket.objects.open()
                .select_related("organisation", "contract__sla_plan")
                .iterator(chunk_size=500)
            ):
                services.recompute(ticket)
                count += 1
        self.stdout.write(self.style.SUCCESS(f"{count} request(s) recomputed"))
