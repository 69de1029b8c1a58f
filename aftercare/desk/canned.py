"""Canned answers: which ones an agent is offered, and filling their placeholders.

Filling is a plain substitution over a fixed set of names. The template engine is never
run on agent-written text: it would expose every attribute of the objects handed to it
(and its tags), while this can only ever produce the values listed in ``_values``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from aftercare.desk.models import CannedAnswer

if TYPE_CHECKING:
    from aftercare.accounts.models import User
    from aftercare.desk.models import Ticket

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")


def offered_to(user: User) -> QuerySet[CannedAnswer]:
    """Shared answers and the agent's own personal ones."""
    return CannedAnswer.objects.filter(Q(shared=True) | Q(owner=user))


def _first_name(user: User | None) -> str:
    if user is None:
        return ""
    return (user.first_name or user.display_name.split(" ")[0]).strip()


def _values(ticket: Ticket, agent: User) -> dict[str, str]:
    reporter = ticket.reporter
    return {
        "customer.name": ticket.organisation.name,
        "organisation.name": ticket.organisation.name,
        "reporter.name": reporter.display_name,
        "reporter.first_name": _first_name(reporter),
        "ticket.number": ticket.number,
        "ticket.subject": ticket.subject,
        "agent.name": agent.display_name,
        "agent.first_name": _first_name(agent),
    }


def fill(text: str, *, ticket: Ticket, agent: User) -> str:
    """Replace known placeholders; unknown ones stay as typed, so a typo is visible."""
    values = _values(ticket, agent)
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
