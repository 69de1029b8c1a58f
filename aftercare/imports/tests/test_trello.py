"""The Trello importer on a board built here, for what the corpus lacks.

The corpus has no archived cards, no checklists, no labelled cards and no comment actions;
this board has all of them, with Ukrainian and Russian list names, in the shape of
Trello's own JSON export.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from aftercare.desk import services as desk
from aftercare.desk.models import Category, Event, Message, Priority, Status, Ticket
from aftercare.imports import services
from aftercare.imports.models import ImportedRecord
from aftercare.imports.trello import (
    Label,
    default_category,
    default_priority,
    default_status,
)
from aftercare.sla import services as sla
from aftercare.sla.models import Metric, Notification, SlaClock

pytestmark = pytest.mark.django_db


def oid(when: datetime, n: int) -> str:
    """A Trello id: creation time in its first 8 hex digits."""
    return f"{int(when.timestamp()):08x}{n:016x}"


C1_AT = datetime(2023, 3, 1, 9, 0, tzinfo=UTC)
C1, C2, C3, C4, C5 = (oid(C1_AT.replace(day=d), d) for d in (1, 2, 3, 4, 5))
IVAN = {"id": "5a0000000000000000000001", "username": "ivan", "fullName": "Ivan Petrenko"}
OLENA = {"id": "5a0000000000000000000002", "username": "olena", "fullName": "Olena Koval"}


def card(card_id, name, list_id, **extra):
    return {
        "id": card_id,
        "name": name,
        "desc": extra.pop("desc", ""),
        "idList": list_id,
        "closed": extra.pop("closed", False),
        "pos": 1,
        "url": f"https://trello.com/c/{card_id[-6:]}",
        "labels": extra.pop("labels", []),
        "idMembers": extra.pop("idMembers", []),
        "attachments": extra.pop("attachments", []),
        "customFieldItems": extra.pop("customFieldItems", []),
        "dateLastActivity": "2023-03-06T12:00:00.000Z",
        **extra,
    }


def comment(action_id, card_id, who, text, date):
    return {
        "id": action_id,
        "type": "commentCard",
        "date": date,
        "idMemberCreator": who["id"],
        "memberCreator": who,
        "data": {"text": text, "card": {"id": card_id, "name": "…"}},
    }


def make_board() -> dict:
    return {
        "id": "board1",
        "name": "Support: Alpha Foods",
        "url": "https://trello.com/b/abc",
        "members": [IVAN, OLENA],
        "lists": [
            {"id": "l1", "name": "Беклог", "closed": False},
            {"id": "l2", "name": "В роботі", "closed": False},
            {"id": "l3", "name": "Выполнено", "closed": False},
            {"id": "l4", "name": "Релиз", "closed": False},
            {"id": "l5", "name": "Waiting for customer", "closed": False},
            {"id": "l6", "name": "Old stuff", "closed": True},
        ],
        "labels": [],
        "customFields": [{"id": "cf1", "name": "Module", "type": "text"}],
        "checklists": [
            {
                "id": "ch1",
                "idCard": C1,
                "name": "Steps",
                "pos": 1,
                "checkItems": [
                    {"name": "Reproduce", "state": "complete", "pos": 1},
                    {"name": "Fix", "state": "incomplete", "pos": 2},
                ],
            }
        ],
        "cards": [
            card(
                C1,
                "Invoice posting fails",
                "l2",
                desc="Posting an invoice fails with error 42.",
                labels=[
                    {"name": "bug", "color": "red"},
                    {"name": "Терміново", "color": "orange"},
                    {"name": "Клієнт X", "color": "green"},
                ],
                idMembers=[OLENA["id"]],
                attachments=[
                    {
                        "name": "screenshot.png",
                        "url": "https://trello.com/1/cards/c1/attachments/a1/download/s.png",
                        "date": "2023-03-01T10:00:00.000Z",
                    }
                ],
                customFieldItems=[{"idCustomField": "cf1", "value": {"text": "Accounting"}}],
            ),
            card(C2, "Old report glitch", "l3", closed=True),
            card(C3, "Forgotten idea", "l6"),
            card(
                C4,
                "Export to XML",
                "l4",
                labels=[{"name": "feature", "color": "blue"}, {"name": "low", "color": "sky"}],
            ),
            card(C5, "Which VAT rate?", "l5", labels=[{"name": "question", "color": "purple"}]),
        ],
        "actions": [
            {
                "id": "a-create-1",
                "type": "createCard",
                "date": "2023-03-01T09:00:00.000Z",
                "idMemberCreator": IVAN["id"],
                "memberCreator": IVAN,
                "data": {"card": {"id": C1}, "list": {"id": "l1"}},
            },
            comment("a-c1", C1, IVAN, "It happens every morning.", "2023-03-01T10:00:00.000Z"),
            comment("a-c2", C1, OLENA, "We are on it.", "2023-03-02T08:00:00.000Z"),
            {
                "id": "a-archive",
                "type": "updateCard",
                "date": "2023-03-04T15:00:00.000Z",
                "data": {"old": {"closed": False}, "card": {"id": C2, "closed": True}},
            },
        ],
    }


@pytest.fixture
def board_file(tmp_path):
    def write(data: dict | None = None):
        path = tmp_path / "board.json"
        path.write_text(json.dumps(data or make_board(), ensure_ascii=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def users_mapping(tmp_path, operator):
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"users": {"olena": "operator"}}), encoding="utf-8")
    return path


def run(path, *extra, stdin=None, stderr=None) -> str:
    out = StringIO()
    call_command(
        "import_trello",
        str(path),
        "--organisation",
        "alpha",
        *extra,
        stdout=out,
        stderr=stderr or StringIO(),
        **({"stdin": stdin} if stdin else {}),
    )
    return out.getvalue()


def ticket_of(card_id: str) -> Ticket:
    return ImportedRecord.objects.get(kind="card", external_id=card_id).ticket


def test_lists_labels_checklists_links_and_people_become_a_request(
    org, operator, board_file, users_mapping
):
    output = run(board_file(), "--no-input", "--mapping", str(users_mapping))
    assert "Requests: 5 created" in output

    t = ticket_of(C1)
    assert (t.status, t.category, t.priority) == (
        Status.IN_PROGRESS,
        Category.INCIDENT,
        Priority.CRITICAL,
    )
    assert t.created_at == C1_AT
    assert t.reporter.get_full_name() == "Ivan Petrenko"
    assert t.assignee == operator  # a card member who is on the staff
    assert t.description.startswith("Posting an invoice fails with error 42.")
    assert "Labels: bug, Терміново, Клієнт X" in t.description  # unknown labels kept as text
    assert "Module: Accounting" in t.description
    assert "Checklist “Steps” (1/2 done):\n[x] Reproduce\n[ ] Fix" in t.description
    note = Message.objects.get(ticket=t, kind=Message.Kind.INTERNAL)
    assert "https://trello.com/1/cards/c1/attachments/a1/download/s.png" in note.body
    public = list(Message.objects.filter(ticket=t, kind=Message.Kind.PUBLIC).order_by("created_at"))
    assert [(m.author.get_full_name(), m.body) for m in public] == [
        ("Ivan Petrenko", t.description),
        ("Ivan Petrenko", "It happens every morning."),
        (operator.get_full_name(), "We are on it."),
    ]
    # The desk already answered in Trello: the first-response clock is met at import.
    clocks = {c.metric: c for c in SlaClock.objects.filter(ticket=t)}
    assert clocks[Metric.FIRST_RESPONSE].state == SlaClock.State.MET
    assert clocks[Metric.RESOLUTION].state == SlaClock.State.RUNNING

    archived = ticket_of(C2)
    assert archived.status == Status.ARCHIVED
    assert archived.closed_at == datetime(2023, 3, 4, 15, 0, tzinfo=UTC)
    assert "Archived in Trello (list “Выполнено”)." in archived.description
    in_closed_list = ticket_of(C3)
    assert in_closed_list.status == Status.ARCHIVED
    assert "Archived in Trello (list “Old stuff”)." in in_closed_list.description

    released = ticket_of(C4)
    assert (released.status, released.category, released.priority) == (
        Status.RELEASED,
        Category.CHANGE,
        Priority.LOW,
    )
    assert released.released_at is not None
    waiting = ticket_of(C5)
    assert (waiting.status, waiting.category) == (Status.WAITING, Category.CONSULTATION)
    assert SlaClock.objects.get(ticket=waiting, metric=Metric.RESOLUTION).state == "paused"
    assert not SlaClock.objects.filter(ticket__in=[archived, in_closed_list, released]).exists()
    assert sla.check() == {"warned": 0, "breached": 0, "escalated": 0}
    assert not Notification.objects.exists()


def test_skip_archived_leaves_archived_cards_out(org, board_file):
    output = run(board_file(), "--no-input", "--skip-archived")
    assert "Requests: 3 created, 0 updated, 0 unchanged, 2 skipped" in output
    assert not ImportedRecord.objects.filter(external_id__in=[C2, C3]).exists()


def test_a_second_run_applies_trello_changes_and_keeps_desk_changes(
    org, operator, board_file, users_mapping
):
    run(board_file(), "--no-input", "--mapping", str(users_mapping))
    t = ticket_of(C1)
    desk.reprioritise(ticket=t, actor=operator, priority=Priority.HIGH, reason="Workaround exists")

    changed = make_board()
    changed["cards"][0]["name"] = "Invoice posting fails every morning"
    changed["cards"][0]["idList"] = "l3"  # Выполнено: done
    changed["actions"][1]["data"]["text"] = "It happens every morning at 9."
    changed["actions"].append(
        comment("a-c3", C1, IVAN, "Works now, thanks!", "2023-03-06T11:00:00.000Z")
    )
    output = run(board_file(changed), "--no-input", "--mapping", str(users_mapping))

    assert "Requests: 0 created, 1 updated, 4 unchanged" in output
    assert "Comments: 1 created, 1 updated, 1 unchanged" in output
    t.refresh_from_db()
    assert t.subject == "Invoice posting fails every morning"
    assert t.status == Status.DONE
    assert t.priority == Priority.HIGH  # the desk's change; the labels did not change
    status_event = Event.objects.get(ticket=t, action="desk.ticket.status_changed")
    assert (status_event.old, status_event.new, status_event.note) == (
        Status.IN_PROGRESS,
        Status.DONE,
        "Changed in Trello",
    )
    assert SlaClock.objects.get(ticket=t, metric=Metric.RESOLUTION).state == SlaClock.State.MET
    bodies = set(Message.objects.filter(ticket=t).values_list("body", flat=True))
    assert "It happens every morning at 9." in bodies
    assert "It happens every morning." not in bodies
    assert "Works now, thanks!" in bodies
    assert Ticket.objects.count() == 5

    third = run(board_file(changed), "--no-input", "--mapping", str(users_mapping))
    assert "Requests: 0 created, 0 updated, 5 unchanged" in third
    assert "Comments: 0 created, 0 updated, 3 unchanged" in third


def test_a_failing_card_leaves_nothing_half_done_and_a_rerun_finishes(org, board_file, monkeypatch):
    original = services._CardWriter._note

    def broken(self, cp, ticket):
        if cp.card.id == C1:
            raise RuntimeError("disk full")
        return original(self, cp, ticket)

    monkeypatch.setattr(services._CardWriter, "_note", broken)
    err = StringIO()
    with pytest.raises(CommandError, match="1 card"):
        run(board_file(), "--no-input", stderr=err)
    assert "Invoice posting fails" in err.getvalue() and "disk full" in err.getvalue()
    assert Ticket.objects.count() == 4
    assert not ImportedRecord.objects.filter(external_id__in=[C1, "a-c1", "a-c2"]).exists()
    assert not Ticket.objects.filter(subject="Invoice posting fails").exists()
    assert not Message.objects.filter(body="We are on it.").exists()

    monkeypatch.setattr(services._CardWriter, "_note", original)
    output = run(board_file(), "--no-input")
    assert "Requests: 1 created, 0 updated, 4 unchanged" in output
    assert ticket_of(C1).messages.count() == 4  # description, 2 comments, attachment note


def test_unknown_lists_are_asked_for_on_a_terminal(org, board_file):
    data = make_board()
    data["lists"].append({"id": "l7", "name": "Misc", "closed": False})
    data["cards"].append(card(oid(C1_AT, 7), "Loose card", "l7"))

    class Terminal(StringIO):
        def isatty(self):
            return True

    err = Terminal()
    output = run(board_file(data), stdin=Terminal("nonsense\n2\n"), stderr=err)

    assert "List “Misc” (1 card): which status?" in err.getvalue()
    assert "Please answer" in err.getvalue()
    assert '{"Misc": "sprint"}' in err.getvalue()
    assert "\r[" in err.getvalue() and "6/6" in err.getvalue()  # the progress bar
    assert "Requests: 6 created" in output
    assert Ticket.objects.get(subject="Loose card").status == Status.SPRINT


def test_no_progress_bar_unless_stderr_is_a_terminal(org, board_file):
    err = StringIO()
    run(board_file(), "--no-input", stderr=err)
    assert "\r" not in err.getvalue()


def test_label_and_user_mapping_sections(org, operator, board_file, tmp_path):
    mapping = tmp_path / "m.json"
    mapping.write_text(
        json.dumps(
            {
                "lists": {"Old stuff": "skip"},
                "labels": {"Клієнт X": "text", "BUG": "problem", "green": "high"},
                "default_category": "consultation",
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    run(board_file(), "--no-input", "--mapping", str(mapping))
    t = ticket_of(C1)
    assert (t.category, t.priority) == (Category.PROBLEM, Priority.CRITICAL)
    assert ticket_of(C3).status == Status.ARCHIVED  # archived cards do not need their list


def test_mapping_problems_are_all_reported(db):
    with pytest.raises(services.MappingError) as excinfo:
        services.parse_mapping(
            {
                "lists": {"Tasks": "todo"},
                "labels": {"P1": "asap"},
                "users": {"bob": "nobody@example.test"},
                "default_category": "bugs",
            },
            "m.json",
        )
    message = str(excinfo.value)
    assert message.startswith("m.json: ")
    for part in ("“Tasks”", "“P1”", "“bob”", "default_category"):
        assert part in message


def test_an_untitled_card_still_becomes_a_valid_request(org, board_file):
    data = make_board()
    data["cards"] = [card(C1, "", "l1")]
    data["cards"][0]["url"] = ""
    data["checklists"] = []
    run(board_file(data), "--no-input")
    t = Ticket.objects.get()
    assert t.subject == "(no title)" and t.description == "(no title)"


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("Backlog", Status.BACKLOG),
        ("To do", Status.BACKLOG),
        ("TODO", Status.BACKLOG),
        ("Беклог", Status.BACKLOG),
        ("Бэклог", Status.BACKLOG),
        ("Сделать", Status.BACKLOG),
        ("Зробити", Status.BACKLOG),
        ("Sprint 14", Status.SPRINT),
        ("Спринт", Status.SPRINT),
        ("In progress", Status.IN_PROGRESS),
        ("Doing", Status.IN_PROGRESS),
        ("В работе", Status.IN_PROGRESS),
        ("В роботі", Status.IN_PROGRESS),
        ("Testing", Status.IN_PROGRESS),
        ("Waiting for customer", Status.WAITING),
        ("Ожидает ответа клиента", Status.WAITING),
        ("Очікує клієнта", Status.WAITING),
        ("Done", Status.DONE),
        ("Готово", Status.DONE),
        ("Выполнено", Status.DONE),
        ("Зроблено", Status.DONE),
        ("Ready for release", Status.DONE),
        ("Готово к релизу", Status.DONE),
        ("Release", Status.RELEASED),
        ("Released", Status.RELEASED),
        ("Релиз", Status.RELEASED),
        ("Реліз", Status.RELEASED),
        ("Archive", Status.ARCHIVED),
        ("Архив", Status.ARCHIVED),
        ("Архів", Status.ARCHIVED),
        ("Rejected", Status.REJECTED),
        ("Отклонено", Status.REJECTED),
        ("Misc", None),
        ("Tasks", None),
    ],
)
def test_default_list_rules(name, status):
    assert default_status(name) == status


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("bug", Category.INCIDENT),
        ("Ошибка", Category.INCIDENT),
        ("Помилка", Category.INCIDENT),
        ("Feature", Category.CHANGE),
        ("Доработка", Category.CHANGE),
        ("Improvement", Category.IMPROVEMENT),
        ("Покращення", Category.IMPROVEMENT),
        ("docs", Category.DOCUMENTATION),
        ("Документація", Category.DOCUMENTATION),
        ("question", Category.CONSULTATION),
        ("Клієнт X", None),
    ],
)
def test_default_label_categories(name, category):
    assert default_category(name) == category


@pytest.mark.parametrize(
    ("label", "priority"),
    [
        (Label("urgent", "orange"), Priority.CRITICAL),
        (Label("Срочно", ""), Priority.CRITICAL),
        (Label("Терміново", ""), Priority.CRITICAL),
        (Label("High", ""), Priority.HIGH),
        (Label("Высокий приоритет", ""), Priority.HIGH),
        (Label("low", ""), Priority.LOW),
        (Label("Низький", ""), Priority.LOW),
        (Label("", "red"), Priority.HIGH),
        (Label("", "green"), None),
        (Label("Клієнт X", "red"), None),
    ],
)
def test_default_label_priorities(label, priority):
    assert default_priority(label) == priority


def test_dry_run_lists_the_plan_and_writes_nothing(org, board_file):
    output = run(board_file(), "--no-input", "--dry-run")
    assert "create    Invoice posting fails (in_progress, 2 new of 2 comments)" in output
    assert "New contacts: Ivan Petrenko, Olena Koval" in output
    assert not Ticket.objects.exists() and not ImportedRecord.objects.exists()
