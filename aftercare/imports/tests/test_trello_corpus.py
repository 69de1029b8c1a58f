"""Every real Trello export in the shared corpus, imported end to end.

The files are read where they are (never copied into the repository); without the
directory the tests skip and say why.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from aftercare.accounts.models import User
from aftercare.desk.models import Event, Message, Status, Ticket
from aftercare.imports.models import ImportedRecord
from aftercare.imports.trello import id_timestamp, parse_board
from aftercare.sla import services as sla
from aftercare.sla.models import Notification, SlaClock
from aftercare.tenancy.models import Membership

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpora" / "trello"
# One list on one board has a name no default rule knows; the mapping names it.
MAPPING = {"Tasks": "in_progress"}
# What each export must become: (cards, comments, {list name: status}).
EXPECTED = {
    "nextcloud-deck/data-trelloJson.json": (1, 0, {"TODO": Status.BACKLOG}),
    "trello2beads/board_with_comments.json": (
        3,
        3,
        {"Backlog": Status.BACKLOG, "Done": Status.DONE},
    ),
    "trello2beads/board_with_references.json": (3, 1, {"Tasks": Status.IN_PROGRESS}),
    "trello2beads/empty_board.json": (0, 0, {}),
    "trello2beads/simple_board.json": (
        10,
        0,
        {"To Do": Status.BACKLOG, "Doing": Status.IN_PROGRESS, "Done": Status.DONE},
    ),
    "wekan/trello-project100.json": (
        3,
        0,
        {"Todo": Status.BACKLOG, "In Progress": Status.IN_PROGRESS, "Done": Status.DONE},
    ),
}


def _exports() -> list:
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{CORPUS} is missing"))]
    found = []
    for path in sorted(CORPUS.rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("cards"), list):
            found.append(pytest.param(path, id=str(path.relative_to(CORPUS))))
    return found


EXPORTS = _exports()
pytestmark = pytest.mark.django_db


@pytest.fixture
def mapping_file(tmp_path):
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(MAPPING), encoding="utf-8")
    return path


def run(path, *extra, mapping=None) -> str:
    out, err = StringIO(), StringIO()
    args = [str(path), "--organisation", "alpha", "--no-input"]
    if mapping:
        args += ["--mapping", str(mapping)]
    call_command("import_trello", *args, *extra, stdout=out, stderr=err)
    return out.getvalue()


def test_the_corpus_is_all_known():
    """A new export in the corpus must get its expectations here, not pass unchecked."""
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is missing")
    names = {p.values[0].relative_to(CORPUS).as_posix() for p in EXPORTS}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("path", EXPORTS)
def test_every_export_imports_with_cards_comments_dates_and_statuses(path, org, mapping_file):
    data = json.loads(path.read_text(encoding="utf-8"))
    cards, comments, statuses = EXPECTED[path.relative_to(CORPUS).as_posix()]
    assert len(data["cards"]) == cards

    output = run(path, mapping=mapping_file)

    assert f"Requests: {cards} created, 0 updated, 0 unchanged, 0 skipped, 0 failed" in output
    assert f"Comments: {comments} created" in output
    assert Ticket.objects.filter(organisation=org).count() == cards
    lists = {x["id"]: x["name"] for x in data["lists"]}
    now = datetime.now(UTC)
    for raw in data["cards"]:
        record = ImportedRecord.objects.get(kind="card", external_id=raw["id"])
        ticket = record.ticket
        assert ticket.subject == raw["name"]
        assert ticket.status == statuses[lists[raw["idList"]]]
        assert (raw.get("desc") or "").strip() in ticket.description
        # The creation date is the card's: from its id, else its creation action.
        born = id_timestamp(raw["id"], now)
        if born is None:
            actions = [
                a["date"]
                for a in data.get("actions", [])
                if a["type"] == "createCard" and a["data"]["card"]["id"] == raw["id"]
            ]
            born = datetime.fromisoformat(actions[0]) if actions else None
        if born is not None:
            assert ticket.created_at == born
        assert ticket.number.startswith(f"AC-{timezone.localtime(ticket.created_at).year}-")
        assert Event.objects.filter(ticket=ticket, action="imports.trello.card_imported").exists()

    # Comments: every one, by its author, on its date, in order.
    source_comments = [
        (card_id, c) for card_id, rows in (data.get("comments") or {}).items() for c in rows
    ] + [
        (a["data"]["card"]["id"], a) for a in data.get("actions", []) if a["type"] == "commentCard"
    ]
    assert len(source_comments) == comments
    for card_id, raw in source_comments:
        record = ImportedRecord.objects.get(kind="comment", external_id=raw["id"])
        message = record.message
        assert (
            message.ticket.pk
            == ImportedRecord.objects.get(kind="card", external_id=card_id).ticket_id
        )
        assert message.body == raw["data"]["text"]
        assert message.kind == Message.Kind.PUBLIC
        assert message.created_at == datetime.fromisoformat(raw["date"])
        assert message.author.get_full_name() == raw["memberCreator"]["fullName"]


@pytest.mark.parametrize("path", EXPORTS)
def test_a_second_run_changes_nothing(path, org, mapping_file):
    run(path, mapping=mapping_file)
    counts = (
        Ticket.objects.count(),
        Message.objects.count(),
        Event.objects.count(),
        User.objects.count(),
        ImportedRecord.objects.count(),
        SlaClock.objects.count(),
    )
    versions = dict(Ticket.objects.values_list("pk", "version"))

    output = run(path, mapping=mapping_file)

    cards = EXPECTED[path.relative_to(CORPUS).as_posix()][0]
    assert f"Requests: 0 created, 0 updated, {cards} unchanged" in output
    assert "Users: 0 new contacts" in output
    assert counts == (
        Ticket.objects.count(),
        Message.objects.count(),
        Event.objects.count(),
        User.objects.count(),
        ImportedRecord.objects.count(),
        SlaClock.objects.count(),
    )
    assert versions == dict(Ticket.objects.values_list("pk", "version"))


@pytest.mark.parametrize("path", EXPORTS)
def test_a_dry_run_writes_nothing(path, org, mapping_file):
    users = User.objects.count()

    output = run(path, "--dry-run", mapping=mapping_file)

    cards = EXPECTED[path.relative_to(CORPUS).as_posix()][0]
    assert "Dry run: nothing was written." in output
    assert f"Requests: {cards} created" in output
    assert not Ticket.objects.exists()
    assert not Message.objects.exists()
    assert not Event.objects.exists()
    assert not ImportedRecord.objects.exists()
    assert User.objects.count() == users


@pytest.mark.parametrize("path", EXPORTS)
def test_imported_history_raises_no_sla_alarms(path, org, mapping_file):
    run(path, mapping=mapping_file)

    assert sla.check() == {"warned": 0, "breached": 0, "escalated": 0}
    assert not Notification.objects.exists()
    for ticket in Ticket.objects.all():
        clocks = SlaClock.objects.filter(ticket=ticket)
        if ticket.status in (Status.DONE, Status.RELEASED, Status.ARCHIVED, Status.REJECTED):
            assert not clocks.exists()  # closed history: no invented SLA results
        else:
            # Open requests: the desk's clock starts when it takes them over.
            assert clocks.count() == 2
            assert all(c.started_at > ticket.created_at for c in clocks)
            assert all(c.breached_at is None for c in clocks)


def require_corpus(name: str) -> Path:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


def test_a_list_without_a_status_is_an_error_that_says_how_to_map_it(org):
    path = require_corpus("trello2beads/board_with_references.json")
    with pytest.raises(CommandError) as excinfo:
        run(path)
    message = str(excinfo.value)
    assert "“Tasks” (3)" in message
    assert "--mapping" in message and '{"Tasks": "backlog"}' in message
    assert not Ticket.objects.exists()


def test_a_bad_mapping_file_is_a_clear_error(org, tmp_path):
    path = require_corpus("trello2beads/board_with_references.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Tasks": "finished", "Done": 7}), encoding="utf-8")
    with pytest.raises(CommandError) as excinfo:
        run(path, mapping=bad)
    message = str(excinfo.value)
    assert 'list “Tasks” → "finished" is not a status' in message
    assert "list “Done” → 7 is not a status" in message
    assert "backlog, sprint, in_progress" in message

    broken = tmp_path / "broken.json"
    broken.write_text("{'Tasks': 'backlog'", encoding="utf-8")
    with pytest.raises(CommandError, match="is not valid JSON"):
        run(path, mapping=broken)
    assert not Ticket.objects.exists()


def test_authors_become_customer_contacts_who_cannot_sign_in(org):
    path = require_corpus("trello2beads/board_with_comments.json")
    assert "Users: 3 new contacts, 0 matched" in run(path)
    alice = User.objects.get(first_name="Alice", last_name="Developer")
    assert not alice.has_usable_password()
    assert Membership.objects.filter(user=alice, organisation=org, role="customer").exists()
    record = ImportedRecord.objects.get(kind="user", user=alice)
    assert (record.external_id, record.name) == ("username:alice", "alice")


def test_wekan_custom_fields_and_members_are_kept(org, operator, tmp_path):
    path = require_corpus("wekan/trello-project100.json")
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"users": {"test_user": "operator"}}), encoding="utf-8")
    run(path, mapping=mapping)
    write = ImportedRecord.objects.get(kind="card", external_id="5fcbec2e6621ca4f0a547896").ticket
    assert "Text Value: Hello" in write.description
    assert "Date Value: 2021-01-07 10:00 UTC" in write.description
    assert "Logical Value: yes" in write.description
    visualise = ImportedRecord.objects.get(kind="card", external_id="5fcbec466e95cf70fc04fbc6")
    assert "Dropdown: Down" in visualise.ticket.description
    assert "Number Value: 100.32" in visualise.ticket.description
    # The card member matches a staff user through the mapping: the assignee.
    assert write.assignee == operator
    # Moved between lists: the status changed when the card last moved.
    assert visualise.ticket.status_changed_at == datetime(2020, 12, 5, 20, 23, 36, 833000, UTC)


def test_the_nextcloud_fixture_dates_come_from_the_creation_action(org):
    path = require_corpus("nextcloud-deck/data-trelloJson.json")
    board = parse_board(json.loads(path.read_text()), now=datetime.now(UTC))
    assert board.cards[0].created_at == datetime(2017, 9, 15, 16, 14, 3, 187000, UTC)
    run(path)
    ticket = Ticket.objects.get()
    assert ticket.number == "AC-2017-000001"
    assert ticket.reporter.get_full_name() == "John Doe"
