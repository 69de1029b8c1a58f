"""What an import must never do: crash on a hostile file, or attach another
organisation's people.

Trello: JSON nested 100 000 levels deep (Python's parser dies with a RecursionError) or
larger than the limit is refused with one clear error before it is parsed, and nothing is
written. Board members are matched only to users eligible in the target organisation —
staff allowed to see it, or its members — by e-mail, by an earlier import, by the mapping
file and ``--reporter``; anyone else becomes a new contact of the organisation. CSV: the
same for reporters and assignees given by e-mail; an agent restricted to other
organisations is never an assignee. Real exports from ``../shared/corpora/trello`` plus
small boards built here.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from aftercare.accounts.models import User
from aftercare.accounts.roles import Role
from aftercare.desk.models import Event, Message, Ticket
from aftercare.imports import trello
from aftercare.imports.csvio import import_csv
from aftercare.imports.models import ImportedRecord
from aftercare.tenancy.models import AgentRestriction, Membership
from aftercare.tenancy.tests.factories import customer, staff

pytestmark = pytest.mark.django_db

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpora" / "trello"
WEKAN = CORPUS / "wekan" / "trello-project100.json"
needs_corpus = pytest.mark.skipif(not WEKAN.is_file(), reason=f"{WEKAN} is missing")
SHARED = "shared.person@example.test"


def counts() -> tuple[int, ...]:
    return (
        Ticket.objects.count(),
        Message.objects.count(),
        Event.objects.count(),
        User.objects.count(),
        Membership.objects.count(),
        ImportedRecord.objects.count(),
    )


def run(path, *extra) -> str:
    out, err = StringIO(), StringIO()
    call_command(
        "import_trello",
        str(path),
        "--organisation",
        "alpha",
        "--no-input",
        *extra,
        stdout=out,
        stderr=err,
    )
    return out.getvalue() + err.getvalue()


def wekan_with_email(tmp_path, email: str) -> Path:
    """The real Wekan/Trello export, its one member given an e-mail address."""
    data = json.loads(WEKAN.read_text(encoding="utf-8"))
    for member in data["members"]:
        member["email"] = email
    path = tmp_path / "wekan.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


MEMBER = {"id": "5a0000000000000000000007", "username": "mira", "fullName": "Mira Stone"}


def small_board(email: str = SHARED) -> dict:
    member = {**MEMBER, "email": email}
    return {
        "id": "b9",
        "name": "Board",
        "members": [member],
        "lists": [{"id": "l1", "name": "To Do"}],
        "cards": [
            {
                "id": "640000000000000000000001",
                "name": "Card",
                "desc": "",
                "idList": "l1",
                "idMembers": [member["id"]],
                "idMemberCreator": member["id"],
            }
        ],
        "actions": [
            {
                "id": "c1",
                "type": "commentCard",
                "date": "2023-03-02T10:00:00.000Z",
                "memberCreator": member,
                "data": {"text": "From Mira", "card": {"id": "640000000000000000000001"}},
            }
        ],
    }


def write(tmp_path, data, name="board.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def attached(user: User) -> bool:
    """Whether ``user`` appears anywhere on requests (reporter, assignee, author)."""
    return (
        Ticket.objects.filter(reporter=user).exists()
        or Ticket.objects.filter(assignee=user).exists()
        or Message.objects.filter(author=user).exists()
    )


# -- hostile files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"cards": [' + "[" * 100_000 + "]" * 100_000 + "]}",
        '{"cards": [], "x": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}",
        '{"cards": [' + "[" * 100_000,  # and never closed
    ],
    ids=["lists", "objects", "unclosed"],
)
def test_deeply_nested_json_is_refused_cleanly(org, tmp_path, text):
    before = counts()
    with pytest.raises(CommandError) as refused:
        run(write(tmp_path, text))
    message = str(refused.value)
    assert "nests" in message and "Nothing was imported" in message
    assert counts() == before


def test_nesting_just_over_the_limit_is_refused_and_brackets_in_text_are_not_nesting(org, tmp_path):
    deep = small_board()
    deep["x"] = json.loads("[" * 70 + "]" * 70)
    with pytest.raises(CommandError, match="more than 64 levels"):
        run(write(tmp_path, deep))
    assert not Ticket.objects.exists()
    fine = small_board()
    fine["cards"][0]["desc"] = "[" * 5000 + "{" * 5000 + '"\\"'
    run(write(tmp_path, fine))
    assert Ticket.objects.get().description.startswith("[" * 5000)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(org, tmp_path, monkeypatch):
    path = write(tmp_path, small_board())
    monkeypatch.setattr(trello, "MAX_JSON_BYTES", path.stat().st_size - 1)
    with pytest.raises(CommandError, match="bytes") as refused:
        run(path)
    assert "Nothing was imported" in str(refused.value)
    assert not Ticket.objects.exists()


def test_a_deeply_nested_mapping_file_is_refused_cleanly(org, tmp_path):
    mapping = write(tmp_path, '{"lists": ' + "[" * 100_000 + "]" * 100_000 + "}", "m.json")
    with pytest.raises(CommandError, match="nests"):
        run(write(tmp_path, small_board()), "--mapping", str(mapping))
    assert not Ticket.objects.exists()


# -- Trello: people of other organisations -------------------------------------------------


@needs_corpus
def test_a_real_export_never_attaches_a_customer_of_another_organisation(org, other_org, tmp_path):
    outsider = customer(other_org, username="outsider", email=SHARED)
    run(wekan_with_email(tmp_path, SHARED))
    assert Ticket.objects.filter(organisation=org).count() == 3
    assert not attached(outsider)
    assert list(
        Membership.objects.filter(user=outsider).values_list("organisation", flat=True)
    ) == [other_org.pk]
    contact = Ticket.objects.filter(organisation=org).first().reporter
    assert contact != outsider and contact.username.startswith("trello-")
    assert contact.email == ""  # the address is the outsider's: never copied
    assert Membership.objects.filter(user=contact, organisation=org).exists()
    # Run again: the same contact, nothing new.
    users = User.objects.count()
    run(wekan_with_email(tmp_path, SHARED))
    assert User.objects.count() == users


@needs_corpus
def test_a_real_export_matches_the_member_of_this_organisation_by_email(org, other_org, tmp_path):
    # A deactivated user of another organisation (active addresses are unique) with the
    # same address: it neither makes the address ambiguous nor is it picked.
    customer(other_org, username="outsider", email=SHARED, is_active=False)
    member = customer(org, username="mine", email=SHARED.upper())
    run(wekan_with_email(tmp_path, SHARED))
    assert set(Ticket.objects.values_list("reporter", flat=True)) == {member.pk}
    assert "0 new contacts" in run(wekan_with_email(tmp_path, SHARED))


def test_a_restricted_agent_of_another_organisation_is_neither_matched_nor_assigned(
    org, other_org, tmp_path
):
    agent = staff(Role.CONSULTANT, username="elsewhere", email=SHARED)
    AgentRestriction.objects.create(user=agent, organisation=other_org)
    run(write(tmp_path, small_board()))
    ticket = Ticket.objects.get()
    assert ticket.assignee is None
    assert not attached(agent)
    assert ticket.reporter != agent and ticket.reporter.username.startswith("trello-")


def test_an_agent_who_may_see_the_organisation_is_matched_and_assigned(org, tmp_path):
    agent = staff(Role.CONSULTANT, username="here", email=SHARED)
    users = User.objects.count()
    run(write(tmp_path, small_board()))
    ticket = Ticket.objects.get()
    assert ticket.assignee == agent
    assert ticket.messages.filter(author=agent).exists()
    assert User.objects.count() == users + 1  # only the import account


def test_an_earlier_import_into_another_organisation_is_not_reused(org, other_org, tmp_path):
    path = write(tmp_path, small_board(email=""))
    call_command(
        "import_trello", str(path), "--organisation", "beta", "--no-input", stdout=StringIO()
    )
    theirs = ImportedRecord.objects.get(kind=ImportedRecord.Kind.USER, organisation=other_org)
    run(path)
    ours = ImportedRecord.objects.get(kind=ImportedRecord.Kind.USER, organisation=org)
    assert ours.user != theirs.user
    assert Ticket.objects.get(organisation=org).reporter == ours.user
    assert not Ticket.objects.filter(organisation=org, reporter=theirs.user).exists()
    assert not Membership.objects.filter(user=theirs.user, organisation=org).exists()


def test_reporter_and_mapping_may_not_name_another_organisations_user(org, other_org, tmp_path):
    outsider = customer(other_org, username="outsider", email="out@example.test")
    path = write(tmp_path, small_board())
    before = counts()
    with pytest.raises(CommandError, match="neither a member of Alpha Foods") as refused:
        run(path, "--reporter", "outsider")
    assert "Nothing was imported" in str(refused.value)
    mapping = write(tmp_path, {"users": {"mira": "out@example.test"}}, "m.json")
    with pytest.raises(CommandError, match="neither a member of Alpha Foods"):
        run(path, "--mapping", str(mapping))
    assert counts() == before
    assert not attached(outsider)


# -- CSV: reporters and assignees ----------------------------------------------------------

HEADER = "external_id,subject,description,status,reporter,assignee\n"


def test_csv_email_matches_only_people_of_the_organisation(org, other_org, owner):
    customer(other_org, username="twin", email=owner.email.upper(), is_active=False)
    outcome = import_csv((HEADER + f"a,One,Body,,{owner.email},\n").encode(), org)
    assert not outcome.bad
    assert Ticket.objects.get().reporter == owner


def test_csv_refuses_a_reporter_of_another_organisation_by_email(org, other_org):
    outsider = customer(other_org, username="outsider", email="out@example.test")
    outcome = import_csv((HEADER + "a,One,Body,,out@example.test,\n").encode(), org)
    assert [str(b) for b in outcome.bad] == [
        "line 2: reporter “out@example.test” is not a member of Alpha Foods"
    ]
    assert not Ticket.objects.exists()
    assert not attached(outsider)


def test_csv_never_assigns_an_agent_restricted_to_other_organisations(
    org, other_org, owner, operator
):
    agent = staff(Role.CONSULTANT, username="elsewhere", email="agent@example.test")
    AgentRestriction.objects.create(user=agent, organisation=other_org)
    data = (
        HEADER
        + f"a,One,Body,,{owner.email},agent@example.test\n"
        + f"b,Two,Body,,{owner.email},elsewhere\n"
        + "c,Three,Body,,elsewhere,\n"
        + f"d,Four,Body,,{owner.email},{operator.email}\n"
    ).encode()
    outcome = import_csv(data, org, skip_bad_rows=True)
    assert [b.line for b in outcome.bad] == [2, 3, 4]
    assert "may not see Alpha Foods" in str(outcome.bad[0])
    assert "may not see Alpha Foods" in str(outcome.bad[1])
    assert "not a member of Alpha Foods" in str(outcome.bad[2])
    assert not attached(agent)
    assert Ticket.objects.get().assignee == operator
