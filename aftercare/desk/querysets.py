"""Who sees which requests: the one copy of the rule, used by every surface."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from aftercare.accounts.roles import PermSet
from aftercare.desk.models import Attachment, Event, Message, Ticket


def visible_tickets(permset: PermSet) -> QuerySet[Ticket]:
    qs = Ticket.objects.all()
    if not permset.is_authenticated:
        return qs.none()
    if permset.is_agent:
        restricted = permset.agent_restricted_to
        return qs if restricted is None else qs.filter(organisation_id__in=restricted)
    from aftercare.notifications.models import Follower

    orgs = list(permset.memberships)
    copied = Follower.objects.filter(user_id=permset.user.pk, role=Follower.Role.CC)
    return qs.filter(
        Q(organisation_id__in=list(permset.coordinator_of))
        | Q(organisation_id__in=orgs, reporter_id=permset.user.pk)
        | Q(organisation_id__in=orgs, pk__in=copied.values("ticket_id"))
    )


def get_ticket_for_user(permset: PermSet, pk: int | str, *, lookup: str = "pk") -> Ticket:
    try:
        return (
            visible_tickets(permset)
            .select_related(
                "organisation", "system", "reporter", "assignee", "created_by", "contract"
            )
            .get(**{lookup: pk})
        )
    except (Ticket.DoesNotExist, ValueError):
        raise Http404("No such request") from None


def visible_messages(permset: PermSet, ticket: Ticket) -> QuerySet[Message]:
    qs = Message.objects.filter(ticket=ticket).select_related("author").order_by("created_at")
    if not permset.has("desk.view_internal_note"):
        qs = qs.filter(kind=Message.Kind.PUBLIC)
    return qs


# What a customer sees of the audit trail: the request's registration, its status
# changes (whose reasons the transition form says go to the customer, and which the
# status mails carry anyway) and the approvals asked of them. Everything else — who it is
# assigned to, escalations and their diagnosis, priority and subject rewrites, SLA events,
# acknowledgements, imports — is the vendor's back office. An allow-list, so that an
# action added later stays internal until someone decides the customer should see it.
CUSTOMER_EVENT_ACTIONS = frozenset(
    {
        "desk.ticket.created",
        "desk.ticket.status_changed",
        "desk.approval.requested",
        "desk.approval.approved",
        "desk.approval.declined",
        "desk.approval.withdrawn",
        # Who else is copied on the request (the customer's own colleagues), and merges.
        "desk.cc.added",
        "desk.cc.removed",
        "desk.ticket.merged",
        "desk.ticket.merge_received",
    }
)
# Of those, the events whose note the customer may read (the reason of a status change,
# the customer's own note on an approval decision).
CUSTOMER_EVENT_NOTES = frozenset(
    {"desk.ticket.status_changed", "desk.approval.approved", "desk.approval.declined"}
)


def visible_events(permset: PermSet, ticket: Ticket) -> QuerySet[Event]:
    qs = Event.objects.filter(ticket=ticket).select_related("actor").order_by("created_at", "pk")
    if not permset.has("desk.view_internal_note"):
        qs = qs.filter(is_internal=False, action__in=sorted(CUSTOMER_EVENT_ACTIONS))
    return qs


def visible_attachments(permset: PermSet, ticket: Ticket) -> QuerySet[Attachment]:
    qs = Attachment.objects.filter(ticket=ticket).order_by("created_at")
    if not permset.has("desk.view_internal_note"):
        qs = qs.filter(is_internal=False)
    return qs


def get_attachment_for_user(permset: PermSet, pk: int | str) -> Attachment:
    try:
        att = Attachment.objects.select_related("ticket").get(pk=pk)
    except (Attachment.DoesNotExist, ValueError):
        raise Http404("No such file") from None
    if not visible_tickets(permset).filter(pk=att.ticket_id).exists():
        raise Http404("No such file")
    if att.is_internal and not permset.has("desk.view_internal_note"):
        raise Http404("No such file")
    return att
