from __future__ import annotations

import base64

from aftercare.desk import services
from aftercare.desk.models import Category, Channel, Priority, Ticket

# A real 1x1 PNG, for uploads that must pass the signature check.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def ticket_for(reporter, organisation, **kwargs) -> Ticket:
    """A request filed through the real service, as a customer would."""
    defaults = {
        "subject": "Invoice posting fails",
        "description": "Posting fails with an error.",
        "category": Category.INCIDENT,
        "priority": Priority.NORMAL,
        "channel": Channel.PORTAL,
    }
    defaults.update(kwargs)
    return services.open_ticket(
        actor=defaults.pop("actor", reporter),
        organisation=organisation,
        reporter=reporter,
        **defaults,
    )


def to_released(ticket: Ticket, consultant) -> Ticket:
    """Walk a Backlog request to Released as its L2 consultant, the regulation's path."""
    from aftercare.desk.models import Status

    for target in (Status.SPRINT, Status.IN_PROGRESS, Status.DONE, Status.RELEASED):
        services.transition(ticket=ticket, actor=consultant, target=target)
    ticket.refresh_from_db()
    return ticket
