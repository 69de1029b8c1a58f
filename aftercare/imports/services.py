"""Importing a Trello board into one organisation: plan first, then apply card by card.

``plan_board`` reads the database but writes nothing: for each card it derives the
request's values (status from the list, category and priority from the labels, a
description that keeps checklists, custom fields and labels as text) and compares their
hash with the ``ImportedRecord`` of the previous run: create, update, unchanged or skip.
A dry run prints this plan; a real run hands it to ``apply_plan``.

``apply_plan`` writes each card in its own transaction: the request, its messages, events
and records appear together or not at all, a failing card is reported and the others go
on, and the ticket-number counter (whose row is locked until commit) is held for one card
at a time, not for the whole board, so the desk keeps registering requests meanwhile. A
re-run resumes where a failed run stopped, because finished cards are then unchanged.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.desk.models import Category, Channel, Message, Priority, Status, Ticket
from aftercare.imports import _write
from aftercare.imports.models import ImportedRecord
from aftercare.imports.trello import (
    SKIP,
    Board,
    BoardError,
    Card,
    Comment,
    Member,
    default_category,
    default_priority,
    default_status,
    read_json,
)
from aftercare.sla import services as sla
from aftercare.sla.models import SlaClock
from aftercare.tenancy.models import Membership, Organisation

log = logging.getLogger(__name__)

SOURCE = ImportedRecord.Source.TRELLO
CHANNEL = Channel.API  # machine-entered; the desk has no "import" channel (yet)
KEEP_AS_TEXT = "text"  # label mapping value: no category or priority, only the text
PRIORITY_NAMES = {p.name.lower(): int(p.value) for p in Priority}
MAX_MAPPING_BYTES = 1024 * 1024  # a mapping names lists, labels and people: small


class MappingError(ValueError):
    """The mapping (file or answers) cannot be used; the message lists every problem."""


@dataclass
class Mapping:
    """How names on the board become Aftercare values; keys are compared case-folded.

    ``lists``: list name → status code or ``skip``; ``labels``: label name (or colour of
    an unnamed label) → category code, priority name or ``text``; ``users``: Trello
    username or full name → an Aftercare user.
    """

    lists: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str | int] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    default_category: str = Category.INCIDENT
    # Reporter of cards whose creator the export does not name (else the import account).
    fallback_reporter: User | None = None


def parse_mapping(data, origin: str) -> Mapping:
    """A ``Mapping`` from a decoded JSON mapping file; every problem in one error.

    Either a flat object ``{"list name": "status"}`` or one with sections
    ``{"lists": {…}, "labels": {…}, "users": {…}, "default_category": "…"}``.
    """
    problems: list[str] = []
    if not isinstance(data, dict):
        raise MappingError(
            _('%(origin)s: expected a JSON object such as {"Tasks": "backlog"}.')
            % {"origin": origin}
        )
    sectioned = isinstance(data.get("lists"), dict) or any(
        key in data for key in ("labels", "users", "default_category")
    )
    lists = data.get("lists", {}) if sectioned else data
    mapping = Mapping()
    statuses = [*Status.values, SKIP]
    for name, value in (lists or {}).items():
        if not isinstance(value, str) or value.strip().lower() not in statuses:
            problems.append(
                _("list “%(name)s” → %(value)s is not a status (use one of: %(choices)s)")
                % {"name": name, "value": json.dumps(value), "choices": ", ".join(statuses)}
            )
        else:
            mapping.lists[name.casefold().strip()] = value.strip().lower()
    if sectioned:
        for name, value in (data.get("labels") or {}).items():
            text = str(value).strip().lower()
            if text in Category.values or text == KEEP_AS_TEXT:
                mapping.labels[name.casefold().strip()] = text
            elif text in PRIORITY_NAMES:
                mapping.labels[name.casefold().strip()] = PRIORITY_NAMES[text]
            else:
                problems.append(
                    _(
                        "label “%(name)s” → %(value)s is neither a category (%(categories)s) "
                        "nor a priority (%(priorities)s) nor “text”"
                    )
                    % {
                        "name": name,
                        "value": json.dumps(value),
                        "categories": ", ".join(Category.values),
                        "priorities": ", ".join(PRIORITY_NAMES),
                    }
                )
        for name, value in (data.get("users") or {}).items():
            user = find_user(str(value))
            if user is None:
                problems.append(
                    _("user “%(name)s” → %(value)s: no Aftercare user has this e-mail or username")
                    % {"name": name, "value": value}
                )
            else:
                mapping.users[name.casefold().strip()] = user
        if "default_category" in data:
            value = str(data["default_category"]).strip().lower()
            if value not in Category.values:
                problems.append(
                    _("default_category %(value)s is not a category (use one of: %(choices)s)")
                    % {"value": json.dumps(value), "choices": ", ".join(Category.values)}
                )
            else:
                mapping.default_category = value
    if problems:
        raise MappingError(
            _("%(origin)s: %(problems)s") % {"origin": origin, "problems": "; ".join(problems)}
        )
    return mapping


def load_mapping(path: str | Path) -> Mapping:
    try:
        data = read_json(path, max_bytes=MAX_MAPPING_BYTES)
    except OSError as exc:
        raise MappingError(_("Cannot read the mapping file: %(error)s") % {"error": exc}) from exc
    except BoardError as exc:
        raise MappingError(f"{path}: {exc}") from exc
    except ValueError as exc:
        raise MappingError(
            _("%(path)s is not valid JSON: %(error)s") % {"path": path, "error": exc}
        ) from exc
    return parse_mapping(data, str(path))


def find_user(value: str, organisation: Organisation | None = None) -> User | None:
    """The user with this username, else the one user with this e-mail address.

    With an ``organisation`` only users eligible there count for the e-mail (staff who
    may see it, its members): another organisation's user with the same address is
    neither a match nor makes the address ambiguous.
    """
    value = value.strip()
    if not value:
        return None
    by_name = User.objects.filter(username=value).first()
    if by_name:
        return by_name
    if organisation is not None:
        eligible, _total = _write.Eligible(organisation).by_email(value)
        return eligible[0] if len(eligible) == 1 else None
    by_mail = list(User.objects.filter(email__iexact=value)[:2])
    return by_mail[0] if len(by_mail) == 1 else None


def ineligible_people(mapping: Mapping, organisation: Organisation) -> list[str]:
    """The users of ``mapping`` (users section, fallback reporter) who may not be attached
    to requests of ``organisation``: neither staff allowed to see it nor its members."""
    eligible = _write.Eligible(organisation)
    problems = []
    if mapping.fallback_reporter is not None and not eligible(mapping.fallback_reporter):
        problems.append(
            _("--reporter %(user)s is neither a member of %(org)s nor staff who may see it")
            % {"user": mapping.fallback_reporter.username, "org": organisation.name}
        )
    for name, user in sorted(mapping.users.items()):
        if not eligible(user):
            problems.append(
                _(
                    "user “%(name)s” → %(user)s is neither a member of %(org)s nor staff "
                    "who may see it"
                )
                % {"name": name, "user": user.username, "org": organisation.name}
            )
    return problems


# -- lists → statuses ---------------------------------------------------------------------


def list_statuses(board: Board, mapping: Mapping) -> dict[str, str | None]:
    """Each list's status: the mapping's, else the default rule's, else ``None``."""
    result: dict[str, str | None] = {}
    for list_id in {*board.lists, *(c.list_id for c in board.cards)}:
        name = board.lists[list_id].name if list_id in board.lists else list_id
        result[list_id] = mapping.lists.get(name.casefold().strip()) or default_status(name)
    return result


def _archived(board: Board, card: Card) -> bool:
    trello_list = board.lists.get(card.list_id)
    return card.closed or bool(trello_list and trello_list.closed)


def unmapped_lists(board: Board, mapping: Mapping) -> dict[str, int]:
    """Names of lists with cards to import but no status, with their card counts.

    Archived cards do not need their list mapped: they become Archived whatever the list.
    """
    statuses = list_statuses(board, mapping)
    missing: dict[str, int] = {}
    for card in board.cards:
        if statuses.get(card.list_id) is None and not _archived(board, card):
            name = board.lists[card.list_id].name if card.list_id in board.lists else card.list_id
            missing[name] = missing.get(name, 0) + 1
    return missing


# -- people -------------------------------------------------------------------------------


class People:
    """Trello members → Aftercare users: found without writing, created only when applied.

    Only *eligible* users are ever matched (``_write.Eligible``): staff allowed to see the
    organisation, or customers with a membership in it. A member is matched, in order, by
    the mapping file (username or full name), by the ``ImportedRecord`` of an earlier run
    (the Trello id in any organisation — one id is one person — or the username / full
    name within this organisation), or by an e-mail address that exactly one eligible user
    has. A user of another organisation is never attached to this one, whatever the
    e-mail says: anyone not matched becomes a customer contact of the organisation (a user
    who cannot sign in until someone sets a password, with a membership). Existing users
    are never given memberships: a wrong match must not open another customer's data.
    """

    def __init__(
        self, organisation: Organisation, mapped: dict[str, User], staff: _write.StaffCache
    ) -> None:
        self.organisation = organisation
        self.mapped = mapped
        self.staff = staff
        self.eligible = _write.Eligible(organisation)
        self._found: dict[str, User | None] = {}
        self.created: list[User] = []
        self.matched: dict[int, User] = {}
        self.not_members: dict[int, User] = {}

    def find(self, member: Member) -> User | None:
        if member.key not in self._found:
            self._found[member.key] = self._lookup(member)
        return self._found[member.key]

    def _lookup(self, member: Member) -> User | None:
        for name in (member.username, member.full_name):
            if name and name.casefold() in self.mapped:
                user = self.mapped[name.casefold()]
                if self.eligible(user):  # the command refuses others up front
                    return user
        records = ImportedRecord.objects.filter(
            source=SOURCE, kind=ImportedRecord.Kind.USER, user__isnull=False
        ).select_related("user")
        here = records.filter(organisation=self.organisation).order_by("pk")
        candidates = [records.filter(external_id=member.key).order_by("pk").first()]
        if member.username:
            # Trello usernames are unique, so a reduced export's "alice" is the "alice"
            # of a full export imported before.
            candidates.append(here.filter(name=member.username).first())
        if not (member.id or member.username) and member.full_name:
            candidates.append(
                here.filter(
                    Q(name=member.full_name) | Q(snapshot__full_name=member.full_name)
                ).first()
            )
        for found in candidates:
            if found is not None and self.eligible(found.user):
                return found.user
        if member.email:
            users, _total = self.eligible.by_email(member.email)
            if len(users) == 1:
                return users[0]
        return None

    @transaction.atomic
    def ensure(self, member: Member) -> User:
        """The member's user, creating the contact if needed; remembers the match."""
        user = self.find(member)
        if user is None:
            user = self._create_contact(member)
            self.created.append(user)
        elif user not in self.created:
            self.matched[user.pk] = user
            if not self.eligible(user):
                self.not_members[user.pk] = user
        record, made = ImportedRecord.objects.get_or_create(
            organisation=self.organisation,
            source=SOURCE,
            kind=ImportedRecord.Kind.USER,
            external_id=member.key[:255],
            defaults={
                "user": user,
                "name": (member.username or member.full_name)[:255],
                "snapshot": {"username": member.username, "full_name": member.full_name},
            },
        )
        if not made and record.user_id != user.pk:
            # The earlier match is no longer eligible (say, their membership ended): the
            # record follows the contact used now, so the next run does not make another.
            record.user = user
            record.save(update_fields=["user"])
        self._found[member.key] = user
        return user

    def _create_contact(self, member: Member) -> User:
        base = re.sub(r"[^\w.@+-]", "", (member.username or member.full_name or member.id))
        base = f"trello-{base or 'member'}"[:140].lower()
        username, n = base, 1
        while User.objects.filter(username=username).exists():
            n += 1
            username = f"{base}-{n}"
        first, _sep, last = member.full_name.partition(" ")
        email = member.email
        if email and User.objects.filter(email__iexact=email, is_active=True).exists():
            # The address belongs to someone not eligible here (another organisation's
            # user): never theirs, and an active address is unique, so the contact gets
            # none (the import record keeps the member's name; an administrator decides).
            email = ""
        user = User.objects.create(
            username=username,
            first_name=(first or member.username)[:150],
            last_name=last[:150],
            email=email,
            password=make_password(None),
            language=self.organisation.language,
            time_zone=self.organisation.time_zone,
        )
        Membership.objects.create(
            user=user, organisation=self.organisation, role=Membership.CustomerRole.CUSTOMER
        )
        self.eligible.joined(user)
        return user


# -- the plan -----------------------------------------------------------------------------


@dataclass
class CommentPlan:
    comment: Comment
    action: str  # create, update, unchanged
    digest: str
    record: ImportedRecord | None = None


@dataclass
class CardPlan:
    card: Card
    action: str  # create, update, unchanged, skip
    reason: str = ""
    values: dict = field(default_factory=dict)
    digest: str = ""
    record: ImportedRecord | None = None
    note_record: ImportedRecord | None = None
    assignee: User | None = None
    comments: list[CommentPlan] = field(default_factory=list)

    @property
    def touches(self) -> bool:
        return self.action in ("create", "update") or any(
            c.action != "unchanged" for c in self.comments
        )


@dataclass
class Plan:
    board: Board
    organisation: Organisation
    cards: list[CardPlan]
    people: People
    new_people: list[Member]
    fallback_reporter: User | None = None
    known_people: int = 0


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0

    def add(self, action: str, n: int = 1) -> None:
        name = {"create": "created", "update": "updated"}.get(action, action)
        setattr(self, name, getattr(self, name) + n)


@dataclass
class Outcome:
    cards: Tally = field(default_factory=Tally)
    comments: Tally = field(default_factory=Tally)
    users_created: int = 0
    users_matched: int = 0
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)


def _comment_digest(comment: Comment) -> str:
    return _write.content_hash(
        {"text": comment.text, "author": comment.author and comment.author.key}
    )


def _description(board: Board, card: Card, archived: bool, people_names: list[str]) -> str:
    """The card's description with everything a request has no field for, as text."""
    parts = [card.desc.strip()] if card.desc.strip() else []
    facts = []
    if card.url:
        facts.append(_("Trello card: %(url)s") % {"url": card.url})
    if archived:
        trello_list = board.lists.get(card.list_id)
        facts.append(
            _("Archived in Trello (list “%(list)s”).")
            % {"list": trello_list.name if trello_list else card.list_id}
        )
    if card.labels:
        facts.append(_("Labels: %(labels)s") % {"labels": ", ".join(x.label for x in card.labels)})
    if people_names:
        facts.append(_("Members: %(names)s") % {"names": ", ".join(people_names)})
    if card.due:
        facts.append(
            _("Due: %(due)s%(done)s")
            % {
                "due": card.due.strftime("%Y-%m-%d %H:%M UTC"),
                "done": " ✓" if card.due_complete else "",
            }
        )
    if facts:
        parts.append("\n".join(facts))
    if card.custom_fields:
        lines = [_("Custom fields:")]
        lines += [f"- {name}: {value}" for name, value in card.custom_fields]
        parts.append("\n".join(lines))
    for checklist in card.checklists:
        done = sum(1 for _text, ok in checklist.items if ok)
        lines = [
            _("Checklist “%(name)s” (%(done)d/%(total)d done):")
            % {"name": checklist.name, "done": done, "total": len(checklist.items)}
        ]
        lines += [f"[{'x' if ok else ' '}] {text}" for text, ok in checklist.items]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _attachments_note(card: Card) -> str:
    if not card.attachments:
        return ""
    lines = [_("Attachments in Trello (links only, not copied; they may need a Trello login):")]
    for att in card.attachments:
        when = f" ({att.date:%Y-%m-%d})" if att.date else ""
        lines.append(
            f"- {att.name}: {att.url}{when}" if att.name != att.url else f"- {att.url}{when}"
        )
    return "\n".join(lines)


def _classify(card: Card, mapping: Mapping) -> tuple[str, int]:
    category, priority = None, None
    for label in card.labels:
        key = label.name or label.color  # a colour names only an unnamed label
        mapped = mapping.labels.get(key.casefold().strip()) if key else None
        if mapped == KEEP_AS_TEXT:
            continue
        if isinstance(mapped, int):
            priority = mapped if priority is None else min(priority, mapped)
            continue
        if isinstance(mapped, str):
            category = category or mapped
            continue
        category = category or default_category(label.name)
        found = default_priority(label)
        if found is not None:
            priority = found if priority is None else min(priority, found)
    return category or mapping.default_category, int(priority or Priority.NORMAL)


def plan_board(
    board: Board,
    organisation: Organisation,
    mapping: Mapping,
    *,
    skip_archived: bool = False,
) -> Plan:
    """What importing ``board`` would do; reads the database, writes nothing."""
    staff = _write.StaffCache(organisation)
    people = People(organisation, mapping.users, staff)
    statuses = list_statuses(board, mapping)
    records = {
        (r.kind, r.external_id): r
        for r in ImportedRecord.objects.filter(
            organisation=organisation,
            source=SOURCE,
            kind__in=[
                ImportedRecord.Kind.CARD,
                ImportedRecord.Kind.COMMENT,
                ImportedRecord.Kind.NOTE,
            ],
        )
    }
    new_people: dict[str, Member] = {}
    known_people: set[int] = set()
    plans = []
    with translation.override(organisation.language):
        for card in sorted(board.cards, key=lambda c: (c.created_at, c.pos)):
            plans.append(
                _plan_card(board, card, mapping, statuses, records, people, staff, skip_archived)
            )
    for cp in plans:
        wanted = []
        if cp.action == "create" and cp.card.creator:
            wanted.append(cp.card.creator)
        wanted += [
            c.comment.author for c in cp.comments if c.action == "create" and c.comment.author
        ]
        for member in wanted:
            user = people.find(member)
            if user is None:
                new_people[member.key] = member
            else:
                known_people.add(user.pk)
    return Plan(
        board,
        organisation,
        plans,
        people,
        list(new_people.values()),
        mapping.fallback_reporter,
        len(known_people),
    )


def _card_digest(board: Board, card: Card, values: dict, archived: bool, names: list) -> str:
    """A hash of the card as Trello has it plus what the mapping made of it.

    Not of the rendered description: a translation or a wording change in this code must
    not make every card of every board "changed" on the next run.
    """
    return _write.content_hash(
        {
            "name": card.name,
            "desc": card.desc,
            "url": card.url,
            "archived": archived,
            # The list's name is in the description of archived cards only.
            "list": board.lists[card.list_id].name
            if archived and card.list_id in board.lists
            else "",
            "labels": [(x.name, x.color) for x in card.labels],
            "members": names,
            "due": (card.due, card.due_complete),
            "custom": card.custom_fields,
            "checklists": [(c.name, c.items) for c in card.checklists],
            "attachments": [(a.name, a.url, a.date) for a in card.attachments],
            **{k: values[k] for k in ("status", "category", "priority", "assignee")},
        }
    )


def _plan_card(
    board: Board,
    card: Card,
    mapping: Mapping,
    statuses: dict[str, str | None],
    records: dict[tuple[str, str], ImportedRecord],
    people: People,
    staff: _write.StaffCache,
    skip_archived: bool,
) -> CardPlan:
    record = records.get((ImportedRecord.Kind.CARD, card.id))
    archived = _archived(board, card)
    if archived and skip_archived:
        return CardPlan(card, "skip", reason=_("archived in Trello"), record=record)
    status = Status.ARCHIVED if archived else statuses.get(card.list_id)
    if status == SKIP:
        name = board.lists[card.list_id].name if card.list_id in board.lists else card.list_id
        return CardPlan(
            card, "skip", reason=_("list “%(list)s” is skipped") % {"list": name}, record=record
        )
    assignee, names = None, []
    for member_id in card.member_ids:
        member = board.members.get(member_id) or Member(key=member_id, id=member_id)
        names.append(member.label)
        user = people.find(member)
        if assignee is None and user is not None and staff(user):
            assignee = user
    category, priority = _classify(card, mapping)
    values = {
        "subject": (card.name or _("(no title)"))[:250],
        "description": _description(board, card, archived, names),
        "category": category,
        "priority": priority,
        "status": status,
        "assignee": assignee.pk if assignee else None,
        "attachments": _attachments_note(card),
    }
    if not values["description"]:
        values["description"] = values["subject"]
    digest = _card_digest(board, card, values, archived, names)
    if record is None:
        action = "create"
    elif record.content_hash == digest:
        action = "unchanged"
    else:
        action = "update"
    plan = CardPlan(
        card,
        action,
        values=values,
        digest=digest,
        record=record,
        note_record=records.get((ImportedRecord.Kind.NOTE, f"{card.id}:attachments")),
        assignee=assignee,
    )
    for comment in card.comments:
        crec = records.get((ImportedRecord.Kind.COMMENT, comment.id))
        cdigest = _comment_digest(comment)
        caction = (
            "create" if crec is None else "unchanged" if crec.content_hash == cdigest else "update"
        )
        plan.comments.append(CommentPlan(comment, caction, cdigest, crec))
    return plan


# -- applying -----------------------------------------------------------------------------


def apply_plan(
    plan: Plan, *, now: datetime | None = None, progress: Callable[[], None] | None = None
) -> Outcome:
    now = now or timezone.now()
    outcome = Outcome()
    importer = _write.importer_account()
    writer = _CardWriter(plan, importer, now)
    with translation.override(plan.organisation.language):
        for cp in plan.cards:
            try:
                writer.write(cp, outcome)
            except Exception as exc:
                log.exception("Trello card %s failed", cp.card.id)
                outcome.cards.failed += 1
                outcome.failures.append(
                    _("card “%(name)s” (%(id)s): %(error)s")
                    % {"name": cp.card.name, "id": cp.card.id, "error": exc}
                )
            if progress:
                progress()
    outcome.users_created = len(plan.people.created)
    outcome.users_matched = len(plan.people.matched)
    for user in plan.people.not_members.values():
        outcome.warnings.append(
            _("%(name)s wrote on this board but is not a member of %(org)s; add them if needed.")
            % {"name": user.display_name, "org": plan.organisation.name}
        )
    return outcome


class _CardWriter:
    def __init__(self, plan: Plan, importer: User, now: datetime) -> None:
        self.plan = plan
        self.org = plan.organisation
        self.importer = importer
        self.now = now
        self.staff = plan.people.staff

    def write(self, cp: CardPlan, outcome: Outcome) -> None:
        if cp.action == "skip":
            outcome.cards.skipped += 1
            outcome.comments.skipped += len(cp.card.comments)
            return
        if not cp.touches:
            outcome.cards.unchanged += 1
            outcome.comments.unchanged += len(cp.comments)
            return
        # Authors first, each in its own transaction: a contact made for a card that then
        # fails is still a correct contact, and the next run will use it.
        reporter = self.plan.fallback_reporter or self.importer
        if cp.action == "create" and cp.card.creator:
            reporter = self.plan.people.ensure(cp.card.creator)
        authors = {
            c.comment.id: self.plan.people.ensure(c.comment.author)
            for c in cp.comments
            if c.action == "create" and c.comment.author
        }
        with transaction.atomic():
            if cp.action == "create":
                ticket = self._create(cp, reporter)
            else:
                ticket = Ticket.objects.select_for_update().get(pk=cp.record.ticket_id)
                if cp.action == "update":
                    self._update(cp, ticket)
            counts = self._comments(cp, ticket, authors)
        outcome.cards.add(cp.action)
        outcome.tickets.append(ticket.number)
        for action, n in counts.items():
            outcome.comments.add(action, n)

    def _create(self, cp: CardPlan, reporter: User) -> Ticket:
        card = cp.card
        values = cp.values
        latest = max(
            [card.created_at, *(c.date for c in card.comments)]
            + [d for d in (card.last_activity,) if d]
        )
        ticket, first = _write.create_ticket(
            organisation=self.org,
            values=values,
            reporter=reporter,
            created_by=self.importer,
            channel=CHANNEL,
            created_at=card.created_at,
            updated_at=latest,
            status_changed_at=(
                card.closed_at or card.last_activity or card.created_at
                if values["status"] == Status.ARCHIVED
                else card.list_changed_at or card.created_at
            ),
            assignee=cp.assignee,
        )
        _write.record_event(
            ticket,
            reporter if card.creator else None,
            "imports.trello.card_imported",
            new=ticket.number,
            note=card.url or self.plan.board.name,
            internal=True,
            at=card.created_at,
        )
        ImportedRecord.objects.create(
            organisation=self.org,
            source=SOURCE,
            kind=ImportedRecord.Kind.CARD,
            external_id=card.id,
            name=card.name[:255],
            ticket=ticket,
            message=first,
            content_hash=cp.digest,
            snapshot=values,
            created_at=self.now,
            updated_at=self.now,
        )
        self._note(cp, ticket)
        return ticket

    def _update(self, cp: CardPlan, ticket: Ticket) -> None:
        values = cp.values
        record = cp.record
        assignee = cp.assignee
        _write.merge_changes(
            ticket,
            before=record.snapshot,
            after=values,
            first_message_id=record.message_id,
            users={assignee.pk: assignee} if assignee else {},
            now=self.now,
            action_prefix="imports.trello.card",
            note=_("Changed in Trello"),
        )
        if record.snapshot.get("attachments", "") != values["attachments"]:
            self._note(cp, ticket)
            _write.record_event(
                ticket,
                None,
                "imports.trello.card_updated",
                field="attachments",
                note=_("Changed in Trello"),
                internal=True,
                at=self.now,
            )
        record.snapshot = values
        record.content_hash = cp.digest
        record.name = cp.card.name[:255]
        record.updated_at = self.now
        record.save(update_fields=["snapshot", "content_hash", "name", "updated_at"])

    def _note(self, cp: CardPlan, ticket: Ticket) -> None:
        """The internal note listing the card's attachment links (never downloaded)."""
        text = cp.values["attachments"]
        record = cp.note_record
        if record is not None and record.message_id:
            Message.objects.filter(pk=record.message_id).update(
                body=text or _("No attachments in Trello any more.")
            )
            record.updated_at = self.now
            record.save(update_fields=["updated_at"])
            return
        if not text:
            return
        dates = [a.date for a in cp.card.attachments if a.date]
        message = Message.objects.create(
            ticket=ticket,
            organisation=self.org,
            author=self.importer,
            kind=Message.Kind.INTERNAL,
            channel=CHANNEL,
            body=text,
            created_at=max(dates)
            if dates and cp.action == "create"
            else (cp.card.created_at if cp.action == "create" else self.now),
        )
        ImportedRecord.objects.create(
            organisation=self.org,
            source=SOURCE,
            kind=ImportedRecord.Kind.NOTE,
            external_id=f"{cp.card.id}:attachments",
            ticket=ticket,
            message=message,
            content_hash=_write.content_hash(text),
        )

    def _comments(self, cp: CardPlan, ticket: Ticket, authors: dict[str, User]) -> dict:
        counts = {"create": 0, "update": 0, "unchanged": 0}
        answered_at: datetime | None = None
        latest: datetime | None = None
        for c in cp.comments:
            counts[c.action] += 1
            comment = c.comment
            if c.action == "create":
                author = authors.get(comment.id)
                body = comment.text
                if author is None:
                    body = _("(Trello, unknown author) %(text)s") % {"text": comment.text}
                message = Message.objects.create(
                    ticket=ticket,
                    organisation=self.org,
                    author=author,
                    kind=Message.Kind.PUBLIC,
                    channel=CHANNEL,
                    body=body,
                    created_at=comment.date,
                )
                _write.record_event(
                    ticket,
                    author,
                    "imports.trello.comment_imported",
                    internal=True,
                    at=comment.date,
                )
                ImportedRecord.objects.create(
                    organisation=self.org,
                    source=SOURCE,
                    kind=ImportedRecord.Kind.COMMENT,
                    external_id=comment.id,
                    ticket=ticket,
                    message=message,
                    user=author,
                    content_hash=c.digest,
                    created_at=self.now,
                    updated_at=self.now,
                )
                if self.staff(author) and (answered_at is None or comment.date < answered_at):
                    answered_at = comment.date
                latest = max(latest or comment.date, comment.date)
            elif c.action == "update" and c.record is not None:
                if c.record.message_id:
                    Message.objects.filter(pk=c.record.message_id).update(body=comment.text)
                _write.record_event(
                    ticket,
                    None,
                    "imports.trello.comment_updated",
                    note=_("Comment edited in Trello"),
                    internal=True,
                    at=self.now,
                )
                c.record.content_hash = c.digest
                c.record.updated_at = self.now
                c.record.save(update_fields=["content_hash", "updated_at"])
                latest = self.now
        if cp.action == "create":
            _write.start_clocks(ticket, now=self.now, answered=answered_at is not None)
            return counts
        if latest is not None:
            _write.bump(ticket, self.now, latest)
        if answered_at is not None:
            # A desk reply new since the last run answers a request whose clock runs.
            start = SlaClock.objects.filter(ticket=ticket).aggregate(s=Min("started_at"))["s"]
            if start is not None:
                sla.first_response(ticket, max(answered_at, start))
        return counts


def forecast(plan: Plan) -> Outcome:
    """The counts a real run of ``plan`` would report (for a dry run)."""
    outcome = Outcome(users_created=len(plan.new_people), users_matched=plan.known_people)
    for cp in plan.cards:
        if cp.action == "skip":
            outcome.cards.skipped += 1
            outcome.comments.skipped += len(cp.card.comments)
            continue
        outcome.cards.add(cp.action)
        for c in cp.comments:
            outcome.comments.add(c.action)
    return outcome
