"""Keep the clocks in step with the desk: one receiver, dispatched on the event."""

from __future__ import annotations

from aftercare.desk.models import Event, Ticket
from aftercare.sla import services
from aftercare.sla.models import SlaPlan


def on_ticket_opening(sender, *, ticket: Ticket, at, **kwargs):
    """A new request's clocks, worked out before its transaction (written in it)."""
    return services.prepare_start(ticket, at)


def on_ticket_changed(sender, *, ticket: Ticket, event: Event, **kwargs) -> None:
    action = event.action
    at = event.created_at
    if action == "desk.ticket.created":
        services.start(ticket, at)
    elif action == "desk.ticket.status_changed":
        services.status_changed(ticket, event.old, event.new, at)
        if event.actor_id and _counts_as_first_response(ticket, event):
            services.first_response(ticket, at)
    elif action in ("desk.ticket.reprioritised",) or (
        action == "desk.ticket.updated" and event.field == "category"
    ):
        services.recompute(ticket, at)
    elif action == "desk.reply.added" and services.is_staff_reply(event):
        services.first_response(ticket, at)
    elif action == "desk.ticket.acknowledged" and _counts_as_first_response(ticket, event):
        services.first_response(ticket, at)


def _counts_as_first_response(ticket: Ticket, event: Event) -> bool:
    plan = services.plan_for(ticket)
    return (
        plan is not None
        and plan.first_response == SlaPlan.FirstResponse.ACKNOWLEDGE
        and services.is_staff_reply(event)
    )
