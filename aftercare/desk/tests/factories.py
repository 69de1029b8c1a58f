from __future__ import annotations

from aftercare.desk import services
from aftercare.desk.models import Category, Channel, Priority, Ticket


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
