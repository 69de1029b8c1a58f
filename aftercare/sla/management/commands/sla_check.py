from aftercare.ops.maintenance import WritingCommand
from aftercare.sla.tasks import run_sla_check


class Command(WritingCommand):
    help = (
        "Run the SLA check once: warnings, breaches, escalations (the worker runs it every minute)."
    )

    def handle(self, *args, **options):
        counts = run_sla_check()
        self.stdout.write(
            self.style.SUCCESS(
                "warned {warned}, breached {breached}, escalated {escalated}".format(
                    **{"warned": 0, "breached": 0, "escalated": 0, **counts}
                )
            )
        )
