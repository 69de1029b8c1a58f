"""``aftercare alerts-token --organisation CODE [--environment ID] [--name NAME]``.

Issues a token for a customer's monitoring and prints it once (only its hash is kept).
For the machine's operator: no staff account is needed, as with the other commands.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django_scopes import scopes_disabled

from aftercare.alerts import services
from aftercare.lifecycle.models import Environment
from aftercare.ops.maintenance import WritingCommand
from aftercare.tenancy.models import Organisation


class Command(WritingCommand):
    help = "Issue a monitoring alert token for a customer organisation (printed once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--organisation", required=True, help="the organisation's code")
        parser.add_argument("--environment", type=int, help="bind the token to this environment id")
        parser.add_argument("--name", default="Monitoring", help="what sends the alerts")
        parser.add_argument(
            "--resolve-moves-to-done",
            action="store_true",
            help="a resolved alert moves its request to Done",
        )

    def handle(self, *args, **options) -> None:
        with scopes_disabled():
            organisation = Organisation.objects.filter(code=options["organisation"]).first()
            if organisation is None:
                raise CommandError(f"No organisation with the code {options['organisation']!r}.")
            environment = None
            if options["environment"] is not None:
                environment = Environment.objects.filter(
                    pk=options["environment"], organisation=organisation
                ).first()
                if environment is None:
                    raise CommandError(
                        f"No environment {options['environment']} in {organisation.code}."
                    )
        try:
            integration, secret = services.issue(
                organisation=organisation,
                environment=environment,
                name=options["name"],
                actor=None,
                resolve_moves_to_done=options["resolve_moves_to_done"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            f"Integration {integration.pk} “{integration.name}” for {organisation.code}"
            + (f", environment {environment}" if environment else "")
        )
        self.stdout.write("Token (shown only now; keep it in the monitoring's secrets):")
        self.stdout.write(secret)
