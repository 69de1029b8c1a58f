"""Privacy requests: export everything about a person; anonymise them, keeping requests."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from aftercare.accounts import privacy, twofactor
from aftercare.accounts.models import SecurityEvent, TwoFactorDevice, User
from aftercare.accounts.roles import Role
from aftercare.api import tokens as api_tokens
from aftercare.api.models import ApiToken
from aftercare.desk import approvals, services
from aftercare.desk.models import Attachment, Event, Message, Ticket
from aftercare.desk.tests.factories import PNG, ticket_for
from aftercare.mail.ingest import ingest
from aftercare.mail.models import AddressStatus, InboundMessage, OutboundMail
from aftercare.mail.tests.factories import make_mail
from aftercare.tenancy.models import AgentRestriction, ContactPerson
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db
EMAIL = "Olga.Owner@alpha.example"


@pytest.fixture
def person(owner, org, consultant, other_org):
    """A customer with a bit of everything: a request with a file, replies, an internal
    note, a decided approval, mail both ways, a contact record, 2FA and an API token."""
    owner.email = EMAIL
    owner.first_name, owner.last_name, owner.phone = "Olga", "Owner", "+40 700 000 111"
    owner.save()
    ContactPerson.objects.create(
        organisation=org, user=owner, name="Olga Owner", email=EMAIL, phone="+40 700 000 111"
    )
    ContactPerson.objects.create(organisation=org, name="Olga (invoices)", email=EMAIL.lower())
    ticket = ticket_for(
        owner,
        org,
        subject="Invoices stuck in posting",
        description=f"Please answer to {EMAIL.lower()} or call me.",
        attachments=[SimpleUploadedFile("screenshot.png", PNG, content_type="image/png")],
    )
    services.reply(ticket=ticket, actor=consultant, body="We are looking into it.")
    services.reply(ticket=ticket, actor=consultant, body="INTERNAL: licence expired", internal=True)
    services.reply(ticket=ticket, actor=owner, body="Thanks, still broken here.")
    approval = approvals.request(ticket=ticket, actor=consultant, action="Restart the server")
    approvals.decide(approval=approval, user=owner, approve=True, via="portal", note="Go ahead")
    ingest(make_mail(sender=f"Olga Owner <{EMAIL}>", subject="Invoices again", body="Hello"))
    AddressStatus.objects.create(address=EMAIL.lower(), bounce_count=1, bounce_reason=EMAIL)
    device = twofactor.start_enrolment(owner)
    twofactor.confirm_enrolment(device, __import__("pyotp").TOTP(device.secret).now())
    api_tokens.issue(user=owner, name="Olga's script")
    # Someone else's request in another organisation, to see that it is left alone.
    ticket_for(staff(Role.OPERATOR), other_org, subject="Beta thing", channel="phone")
    return owner


def _hits(needle: str) -> list[tuple[str, str]]:
    """Every (table, column) of the database whose text contains ``needle``."""
    found = []
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                cursor.execute(
                    f"SELECT COUNT(*) FROM {qn(table)} "  # noqa: S608 - names from introspection
                    f"WHERE LOWER(CAST({qn(column.name)} AS TEXT)) LIKE %s",
                    [f"%{needle.lower()}%"],
                )
                if cursor.fetchone()[0]:
                    found.append((table, column.name))
    return found


def _files_containing(needle: bytes) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file() and needle.lower() in p.read_bytes().lower()]


def _counts() -> dict[str, int]:
    return {
        "tickets": Ticket.objects.count(),
        "messages": Message.objects.count(),
        "events": Event.objects.count(),
        "attachments": Attachment.objects.count(),
        "inbound": InboundMessage.objects.count(),
        "outbound": OutboundMail.objects.count(),
    }


# -- export --------------------------------------------------------------------------------


def test_the_export_holds_the_persons_own_data_but_no_internal_notes(person, capsys):
    call_command("contact_export", EMAIL.upper())
    data = json.loads(capsys.readouterr().out)
    assert data["person"]["email"] == EMAIL
    assert data["person"]["two_factor"]["enabled"] is True
    assert [m["code"] for m in data["memberships"]] == ["alpha"]
    assert len(data["contact_person_records"]) == 2
    # The one filed in the portal, and the one their e-mail opened.
    assert {t["subject"] for t in data["requests_reported"]} == {
        "Invoices stuck in posting",
        "Invoices again",
    }
    reported = data["requests_reported"][0]
    assert reported["subject"] == "Invoices stuck in posting"
    bodies = [m["body"] for m in reported["public_messages"]]
    assert "We are looking into it." in bodies and "Thanks, still broken here." in bodies
    assert "licence expired" not in json.dumps(data)
    assert "Thanks, still broken here." in [m["body"] for m in data["messages_written"]]
    assert data["files_uploaded"][0]["name"] == "screenshot.png"
    assert data["approvals_decided"][0]["comment"] == "Go ahead"
    assert data["mail_received_from_you"][0]["subject"] == "Invoices again"
    assert data["mail_sent_to_you"], "notifications to the person"
    assert {e["action"] for e in data["events_caused"]} >= {"desk.ticket.created"}
    assert "Beta thing" not in json.dumps(data)
    assert SecurityEvent.objects.filter(action="accounts.contact.exported").count() == 1


def test_the_export_zip_has_the_json_and_the_uploaded_files(person, tmp_path):
    target = tmp_path / "olga.zip"
    call_command("contact_export", "owner", output=str(target))
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        data = json.loads(archive.read("data.json"))
        (entry,) = [n for n in names if n.startswith("attachments/")]
        assert archive.read(entry) == PNG
    assert data["files_uploaded"][0]["file_in_archive"] == entry


def test_the_export_command_refuses_an_unknown_person(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("contact_export", "nobody@nowhere.example")


def test_managers_download_an_export_and_others_get_404(
    person, manager, operator, coordinator, client_for
):
    url = reverse("accounts:contact-export", args=[person.pk])
    response = client_for(manager).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert json.loads(archive.read("data.json"))["person"]["email"] == EMAIL
    assert client_for(operator).get(url).status_code == 404
    assert client_for(coordinator).get(url).status_code == 404
    # Everyone may download their own.
    own = client_for(coordinator).get(reverse("accounts:contact-export", args=[coordinator.pk]))
    assert own.status_code == 200


def test_a_manager_restricted_to_another_customer_gets_404(person, manager, other_org, client_for):
    AgentRestriction.objects.create(user=manager, organisation=other_org)
    url = reverse("accounts:contact-export", args=[person.pk])
    assert client_for(manager).get(url).status_code == 404


def test_the_customer_page_offers_export_to_managers_and_anonymise_to_admins(
    person, org, manager, operator, client_for
):
    url = reverse("console:organisation", args=[org.code])
    export = reverse("accounts:contact-export", args=[person.pk])
    admin = staff(Role.ADMIN, username="admin")
    as_admin = client_for(admin).get(url).content.decode()
    assert export in as_admin and "data-privacy-anonymise" in as_admin
    as_manager = client_for(manager).get(url).content.decode()
    assert export in as_manager and "data-privacy-anonymise" not in as_manager
    assert export not in client_for(operator).get(url).content.decode()


# -- anonymisation ---------------------------------------------------------------------------


def test_anonymising_removes_the_address_from_every_table_and_keeps_the_requests(person):
    signed_in = Client()
    signed_in.force_login(person)
    before = _counts()
    ticket = Ticket.objects.get(reporter=person, subject="Invoices stuck in posting")
    raw_files = [m.raw.path for m in InboundMessage.objects.filter(sender__iexact=EMAIL)]
    assert raw_files and all(Path(p).exists() for p in raw_files)
    assert _hits(EMAIL), "control: the address is stored before"
    assert _hits("+40 700 000 111")
    assert _files_containing(EMAIL.encode())

    out = io.StringIO()
    call_command("contact_anonymise", EMAIL, reason="Erasure request of 2026-11-20", stdout=out)
    assert f"Anonymised user #{person.pk} (now anonymised-{person.pk})" in out.getvalue()

    assert _hits(EMAIL) == []
    assert _hits("+40 700 000 111") == []
    assert _files_containing(EMAIL.encode()) == []
    assert _counts() == before
    person.refresh_from_db()
    assert person.email == f"anon-{person.pk}@invalid"
    assert person.display_name == f"Anonymised contact #{person.pk}"
    assert not person.is_active and not person.has_usable_password()
    assert Ticket.objects.get(pk=ticket.pk).reporter_id == person.pk
    assert Message.objects.filter(author=person).exists()
    assert not TwoFactorDevice.objects.filter(user=person).exists()
    assert not ApiToken.objects.filter(user=person).exists()
    assert SESSION_KEY not in signed_in.session.load()
    assert signed_in.get(reverse("portal:list")).status_code == 302
    assert not Client().login(username=EMAIL, password="pw-for-tests-123")
    assert set(ContactPerson.objects.values_list("email", flat=True)) == {""}
    assert set(ContactPerson.objects.values_list("name", flat=True)) == {
        f"Anonymised contact #{person.pk}"
    }
    assert not any(Path(p).exists() for p in raw_files)
    event = SecurityEvent.objects.get(action="accounts.contact.anonymised")
    assert (event.subject, event.reason) == (person, "Erasure request of 2026-11-20")


def test_anonymising_twice_changes_nothing_more(person):
    call_command("contact_anonymise", "owner", reason="Request", stdout=io.StringIO())
    person.refresh_from_db()
    snapshot = (_counts(), SecurityEvent.objects.count(), person.username)
    out = io.StringIO()
    call_command("contact_anonymise", person.username, reason="Request", stdout=out)
    assert "anonymised already" in out.getvalue()
    out = io.StringIO()
    call_command("contact_anonymise", EMAIL, reason="Request", stdout=out)
    assert "nothing to do" in out.getvalue()
    person.refresh_from_db()
    assert (_counts(), SecurityEvent.objects.count(), person.username) == snapshot


def test_an_address_without_an_account_is_scrubbed_too(db, org):
    ContactPerson.objects.create(organisation=org, name="Ivan Extern", email="ivan@ext.example")
    ingest(make_mail(sender="ivan@ext.example", subject="Hello from Ivan"))
    assert _hits("ivan@ext.example")
    call_command("contact_anonymise", "ivan@ext.example", reason="Request", stdout=io.StringIO())
    assert _hits("ivan@ext.example") == []
    assert ContactPerson.objects.get().name == "Anonymised contact"


def test_only_an_administrator_anonymises_and_must_confirm(person, manager, org, client_for):
    url = reverse("accounts:contact-anonymise")
    assert client_for(manager).get(url, {"user": person.pk}).status_code == 404
    assert (
        client_for(manager)
        .post(url, {"user": person.pk, "reason": "x", "confirm": "on"})
        .status_code
        == 404
    )
    admin = staff(Role.ADMIN, username="admin")
    client = client_for(admin)
    page = client.get(url, {"user": person.pk})
    assert page.status_code == 200 and EMAIL in page.content.decode()
    unconfirmed = client.post(url, {"user": person.pk, "reason": "Erasure request"})
    assert unconfirmed.status_code == 200 and "errorlist" in unconfirmed.content.decode()
    assert User.objects.get(pk=person.pk).email == EMAIL
    done = client.post(url, {"user": person.pk, "reason": "Erasure request", "confirm": "on"})
    assert done.status_code == 302
    assert done["Location"] == reverse("console:organisation", args=[org.code])
    assert privacy.is_anonymised(User.objects.get(pk=person.pk))
    assert client.get(url, {"user": 2_000_000_000}).status_code == 404
    assert client.get(url, {"user": admin.pk}).status_code == 404
