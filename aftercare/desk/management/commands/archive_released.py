from aftercare.desk.services import archive_released
from aftercare.ops.maintenance import WritingCommand
from aftercare.tenancy.scoping import system_scope


class Command(WritingCommand):
    help = "Archive requests Released more than AFTERCARE_ARCHIVE_AFTER_DAYS calendar days ago."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Override the number of calendar days (default: the setting).",
        )

    def handle(self, *args, days=None, **options):
        if days is not None and days < 0:
            self.stderr.write("--days must be 0 or more")
            raise SystemExit(2)
        with system_scope():
            numbers = archive_released(days=days)
        for number in numbers:
            self.stdout.write(f"archived {number}")
        self.stdout.write(self.style.SUCCESS(f"{len(numbers)} request(s) archived"))
