"""Writing imported requests: shared by the Trello and the CSV importers.

Why not ``desk.services.open_ticket`` and ``reply``? They record *now*: the creation
instant, the authors' permissions, the workflow path to a status. Imported history has
its own past dates, authors who may never sign in, and statuses reached outside the
workflow. So new requests are written here directly, but the way the services write them
(a number from ``allocate_number`` for the request's own date, the description as the
first message, an ``Event`` for each thing brought in, ``ticket_changed`` sent and follow-ups recorded after each
event so every listener sees the stream). Creation events use the ``imports.*`` action
codes, so that listeners reacting to live ``desk.*`` actions (first response, mail
notifications) do not react to history.

Later runs change requests that already exist; those changes happen *now*, so they use
the desk's own action codes (``desk.ticket.status_changed`` …) and the SLA engine reacts
to them exactly as to a change made in the console.

SLA clocks: closed history (a status the plan stops clocks at: Done, Released, Archived,
Rejected by default) gets none — inventing "met" or "breached" for work done before the
desk existed would only distort the reports, and the periodic check can never notify about
a past that has no clock. Open requests get clocks that start at the moment of import,
when the desk takes them over, so their deadlines lie in the future.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from django.contrib.auth.hashers import make_password

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet
from aftercare.desk import services
from aftercare.desk.models import Event, Message, Status, Ticket
from aftercare.desk.numbering import allocate_number
from aftercare.sla import services as sla
from aftercare.sla.models import SlaClock
from aftercare.tenancy.models import Contract, Membership, Organisation

IMPORTER_USERNAME = "aftercare-import"
# Statuses the SLA engine treats as solved when a plan does not say otherwise.
DEFAULT_STOPPING = frozenset({Status.DONE, Status.RELEASED, Status.ARCHIVED, Status.REJECTED})
# The values an import derives per request; a later run compares them field by field.
FIELDS = ("subject", "description", "category", "priority", "status", "assignee")


def content_hash(values) -> str:
    blob = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def importer_account() -> User:
    """The account that registers imported requests (``created_by``); it cannot sign in."""
    user, created = User.objects.get_or_create(
        username=IMPORTER_USERNAME,
        defaults={"first_name": "Aftercare", "last_name": "import", "is_active": False},
    )
    if created:
        user.password = make_password(None)
        user.save(update_fields=["password"])
    return user


class StaffCache:
    """Whether a user is on the vendor's staff, asked once per user per run.

    With an ``organisation``: staff *allowed to see that organisation* (an agent restricted
    to other organisations is not staff there: never an assignee, never matched).
    """

    def __init__(self, organisation: Organisation | None = None) -> None:
        self.organisation = organisation
        self._known: dict[int, bool] = {}

    def __call__(self, user: User | None) -> bool:
        if user is None:
            return False
        if user.pk not in self._known:
            perms = PermSet(user)
            self._known[user.pk] = perms.is_agent and (
                self.organisation is None or perms.sees_organisation(self.organisation.pk)
            )
        return self._known[user.pk]

    def is_agent(self, user: User | None) -> bool:
        """On the staff at all (whichever organisations they may see)."""
        return bool(user is not None and PermSet(user).is_agent)


class Eligible:
    """Who an import may attach to requests of one organisation (reporter, author,
    assignee, matched member): staff allowed to see the organisation, or customers with a
    membership in it. Matching by e-mail or by an earlier import considers only these, so
    a user of another organisation is never attached to (or re-homed into) this one.
    """

    def __init__(self, organisation: Organisation) -> None:
        self.organisation = organisation
        self.staff = StaffCache(organisation)
        self.members = set(
            Membership.objects.filter(organisation=organisation).values_list("user_id", flat=True)
        )

    def member(self, user: User | None) -> bool:
        return user is not None and user.pk in self.members

    def __call__(self, user: User | None) -> bool:
        return self.member(user) or self.staff(user)

    def joined(self, user: User) -> None:
        """``user`` was just given a membership of the organisation."""
        self.members.add(user.pk)

    def by_email(self, email: str) -> tuple[list[User], int]:
        """The eligible users with this e-mail address, and how many users have it at all."""
        users = list(User.objects.filter(email__iexact=email.strip()).order_by("pk")[:50])
        return [u for u in users if self(u)], len(users)


def contract_at(organisation: Organisation, moment: datetime) -> Contract | None:
    day = moment.date()
    return (
        Contract.objects.filter(organisation=organisation, starts_on__lte=day)
        .exclude(ends_on__lt=day)
        .order_by("-starts_on")
        .first()
    )


def record_event(
    ticket: Ticket,
    actor: User | None,
    action: str,
    *,
    at: datetime,
    field: str = "",
    old="",
    new="",
    note: str = "",
    internal: bool = False,
) -> Event:
    """The desk's own Event writer, with the historical moment ``at`` required."""
    return services._event(
        ticket, actor, action, field=field, old=old, new=new, note=note, internal=internal, at=at
    )


def status_fields(ticket: Ticket, status: str, at: datetime) -> list[str]:
    """Set ``status`` and the fields that go with it, as the desk's transition does."""
    old = ticket.status
    ticket.status = status
    ticket.status_changed_at = at
    fields = ["status", "status_changed_at"]
    if status == Status.WAITING and old != Status.WAITING:
        ticket.status_before_waiting = old
        fields.append("status_before_waiting")
    ticket.released_at = at if status == Status.RELEASED else None
    ticket.closed_at = at if status in (Status.ARCHIVED, Status.REJECTED) else None
    return [*fields, "released_at", "closed_at"]


def _stopping(ticket: Ticket) -> frozenset[str]:
    plan = sla.plan_for(ticket)
    return plan.stopping if plan else DEFAULT_STOPPING


def start_clocks(ticket: Ticket, *, now: datetime, answered: bool) -> None:
    """Clocks for a request the desk takes over now (none for closed history)."""
    if ticket.status in _stopping(ticket) or SlaClock.objects.filter(ticket=ticket).exists():
        return
    sla.start(ticket, now)
    if ticket.status != Status.BACKLOG:
        sla.status_changed(ticket, Status.BACKLOG, ticket.status, now)
    if answered:
        sla.first_response(ticket, now)


def create_ticket(
    *,
    organisation: Organisation,
    values: dict,
    reporter: User,
    created_by: User,
    channel: str,
    created_at: datetime,
    updated_at: datetime,
    status_changed_at: datetime,
    assignee: User | None,
) -> tuple[Ticket, Message]:
    """The request row and its first message, dated in the past; no event, no clocks."""
    ticket = Ticket(
        number=allocate_number(created_at),
        organisation=organisation,
        contract=contract_at(organisation, created_at),
        reporter=reporter,
        created_by=created_by,
        assignee=assignee,
        category=values["category"],
        customer_priority=values["priority"],
        priority=values["priority"],
        channel=channel,
        subject=values["subject"][:250],
        description=values["description"],
        created_at=created_at,
        updated_at=max(updated_at, created_at),
        status=Status.BACKLOG,
    )
    status_fields(ticket, values["status"], max(status_changed_at, created_at))
    ticket.save()
    message = Message.objects.create(
        ticket=ticket,
        organisation=organisation,
        author=reporter,
        body=values["description"],
        channel=channel,
        created_at=created_at,
    )
    return ticket, message


def merge_changes(
    ticket: Ticket,
    *,
    before: dict,
    after: dict,
    first_message_id: int | None,
    users: dict[int, User],
    now: datetime,
    action_prefix: str,
    note: str,
) -> list[str]:
    """Apply what changed at the source since the last run; leave the rest alone.

    A field is written only if its source value differs from the one the previous run
    derived (``before``), so a change made meanwhile in Aftercare to a field the source
    did not touch survives. The caller holds the ticket's row lock.
    """
    changed = [name for name in FIELDS if name in after and before.get(name) != after[name]]
    fields: list[str] = []
    events: list[tuple[str, str, object, object]] = []
    for name in changed:
        new = after[name]
        if name == "status":
            if ticket.status == new:
                continue
            events.append(("desk.ticket.status_changed", "status", ticket.status, new))
            fields += status_fields(ticket, new, now)
        elif name == "priority":
            if ticket.priority == new:
                continue
            events.append(("desk.ticket.reprioritised", "priority", ticket.priority, new))
            ticket.priority = new
            fields.append("priority")
        elif name in ("category", "subject"):
            if getattr(ticket, name) == new:
                continue
            events.append(("desk.ticket.updated", name, getattr(ticket, name), new))
            setattr(ticket, name, new if name == "category" else new[:250])
            fields.append(name)
        elif name == "assignee":
            if ticket.assignee_id == new:
                continue
            old_user = ticket.assignee
            ticket.assignee = users.get(new) if new else None
            events.append(
                (
                    "desk.ticket.assigned",
                    "assignee",
                    old_user.display_name if old_user else "",
                    ticket.assignee.display_name if ticket.assignee else "",
                )
            )
            fields.append("assignee")
        elif name == "description":
            if ticket.description == new:
                continue
            ticket.description = new
            fields.append("description")
            if first_message_id:
                Message.objects.filter(pk=first_message_id).update(body=new)
            events.append((f"{action_prefix}_updated", "description", "", ""))
    if not events:
        return []
    ticket.updated_at = now
    ticket.version += 1
    ticket.save(update_fields=sorted({*fields, "updated_at", "version"}))
    for action, name, old, new in events:
        internal = action.startswith("imports.")
        record_event(
            ticket, None, action, field=name, old=old, new=new, note=note, at=now, internal=internal
        )
    if "status" in fields:
        start_clocks(ticket, now=now, answered=False)
    return [name for _a, name, _o, _n in events]


def bump(ticket: Ticket, now: datetime, latest: datetime | None = None) -> None:
    """A message was added or edited on an existing request: a new version."""
    ticket.version += 1
    ticket.updated_at = max(ticket.updated_at, latest or now)
    Ticket.objects.filter(pk=ticket.pk).update(version=ticket.version, updated_at=ticket.updated_at)
