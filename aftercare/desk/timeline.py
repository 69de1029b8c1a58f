"""The request's timeline: messages and audit events in one list, oldest first.

Three queries whatever the length (messages, events, attachments), then a merge in
Python; event values are stored as codes and rendered here in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils.translation import gettext as _

from aftercare.accounts.roles import PermSet
from aftercare.desk.models import Category, Event, Level, Message, Priority, Status, Ticket
from aftercare.desk.querysets import (
    CUSTOMER_EVENT_NOTES,
    visible_attachments,
    visible_events,
    visible_messages,
)

FIELD_LABELS = {
    "status": lambda: _("Status"),
    "priority": lambda: _("Priority"),
    "assignee": lambda: _("Assignee"),
    "level": lambda: _("Support level"),
    "category": lambda: _("Category"),
    "system": lambda: _("System"),
    "subject": lambda: _("Subject"),
}
CHOICES = {"status": Status, "priority": Priority, "level": Level, "category": Category}


def _label(field_name: str, value: str) -> str:
    enum = CHOICES.get(field_name)
    if enum is None or value == "":
        return value
    try:
        return str(enum(int(value) if enum in (Priority, Level) else value).label)
    except ValueError:
        return value


ACTION_TEXT = {
    "desk.ticket.created": lambda: _("registered the request"),
    "desk.ticket.acknowledged": lambda: _("acknowledged the request"),
    "sla.warning": lambda: _("SLA warning"),
    "sla.breached": lambda: _("SLA target missed"),
    "desk.ticket.status_changed": lambda: _("changed the status"),
    "desk.ticket.assigned": lambda: _("changed the assignee"),
    "desk.ticket.escalated": lambda: _("escalated to L2"),
    "desk.ticket.reprioritised": lambda: _("changed the priority"),
    "desk.ticket.updated": lambda: _("updated the request"),
    "desk.reply.added": lambda: _("replied"),
    "desk.note.added": lambda: _("added an internal note"),
    "desk.approval.requested": lambda: _("asked the customer for approval"),
    "desk.approval.approved": lambda: _("approved"),
    "desk.approval.declined": lambda: _("declined"),
    "desk.approval.withdrawn": lambda: _("withdrew the approval request"),
    "desk.approval.undone": lambda: _("took back the customer's answer to an approval"),
    "desk.approval.unclear_reply": lambda: _("could not read an answer to an approval"),
    "mail.bounce": lambda: _("received a delivery failure report"),
    "mail.attachments_refused": lambda: _("refused files from an e-mail"),
    "mail.follow_up": lambda: _("linked an earlier request"),
    "imports.trello.card_imported": lambda: _("imported from Trello"),
    "imports.trello.card_updated": lambda: _("updated from Trello"),
    "imports.trello.comment_imported": lambda: _("imported a comment from Trello"),
    "imports.trello.comment_updated": lambda: _("updated a comment from Trello"),
    "imports.csv.row_imported": lambda: _("imported from CSV"),
    "desk.watcher.added": lambda: _("added a watcher"),
    "desk.watcher.removed": lambda: _("removed a watcher"),
    "desk.cc.added": lambda: _("copied a contact on the request"),
    "desk.cc.removed": lambda: _("removed a contact from the copy list"),
    "desk.ticket.linked": lambda: _("linked a related request"),
    "desk.ticket.unlinked": lambda: _("removed a related request"),
    "desk.ticket.merged": lambda: _("merged this request into another"),
    "desk.ticket.merge_received": lambda: _("merged another request into this one"),
    "time.recorded": lambda: _("recorded time spent (minutes)"),
    "time.changed": lambda: _("corrected time spent (minutes)"),
    "time.deleted": lambda: _("deleted time spent (minutes)"),
}


@dataclass
class Entry:
    kind: str  # "message" or "event"
    at: datetime
    obj: Message | Event
    attachments: list = field(default_factory=list)
    text: str = ""
    field_label: str = ""
    old: str = ""
    new: str = ""
    show_values: bool = False
    note: str = ""
    # The message that carried the description when the request was filed: the page shows
    # it once, as the request's text, not again as the first entry of the conversation.
    opening: bool = False

    @property
    def group(self) -> str:
        """The timeline filter's name for this entry: conversation or changes."""
        return "conversation" if self.kind == "message" else "changes"

    @property
    def key(self) -> str:
        """Stable id of the entry in the page (the live refresh appends unknown keys)."""
        return f"{self.kind[0]}{self.obj.pk}"


def build_timeline(permset: PermSet, ticket: Ticket) -> list[Entry]:
    files_by_message: dict[int | None, list] = {}
    for att in visible_attachments(permset, ticket):
        files_by_message.setdefault(att.message_id, []).append(att)
    entries = [
        Entry("message", m.created_at, m, attachments=files_by_message.get(m.pk, []))
        for m in visible_messages(permset, ticket)
    ]
    first = min(
        (e for e in entries if not e.obj.is_internal),
        key=lambda e: (e.at, e.obj.pk),
        default=None,
    )
    if first is not None and first.obj.body.strip() == ticket.description.strip():
        first.opening = True
    staff = permset.has("desk.view_internal_note")
    for ev in visible_events(permset, ticket):
        if ev.action in ("desk.reply.added", "desk.note.added"):
            continue  # the message itself is on the timeline
        text = ACTION_TEXT.get(ev.action, lambda a=ev.action: a)()
        # "changed the status: “Backlog” → “Sprint”"; only a generic update names the field.
        label = (
            FIELD_LABELS.get(ev.field, lambda f=ev.field: f)()
            if (ev.action == "desk.ticket.updated")
            else ""
        )
        values = ev.action not in ("desk.ticket.escalated", "desk.ticket.created") and (
            ev.field not in ("", "sla")
        )
        entries.append(
            Entry(
                "event",
                ev.created_at,
                ev,
                text=text,
                field_label=label,
                old=_label(ev.field, ev.old),
                new=_label(ev.field, ev.new),
                show_values=values,
                note=ev.display_note if staff or ev.action in CUSTOMER_EVENT_NOTES else "",
            )
        )
    loose = files_by_message.get(None, [])
    if loose and entries:
        entries[0].attachments = [*entries[0].attachments, *loose]
    # Stable: a message and the event it caused keep their written order.
    entries.sort(key=lambda e: (e.at, 0 if e.kind == "message" else 1))
    return entries
