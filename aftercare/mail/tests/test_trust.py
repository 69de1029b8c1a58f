"""Whose mail goes where: every path by which a mail names a request, every kind of
sender who may not write to it, ambiguous and unreadable senders, reused Message-IDs.

Every test goes through the real intake (``ingest(raw_bytes)``) with whole messages
written out as bytes, the way they arrive from an MTA.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.urls import reverse

from aftercare.accounts.roles import Role
from aftercare.desk.models import Message, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.mail import ingest as intake
from aftercare.mail.ingest import TriageError, ingest, triage_append, triage_open
from aftercare.mail.models import InboundMessage, OutboundMail
from aftercare.mail.outbound import reply_token, thread_root
from aftercare.tenancy.models import AgentRestriction, Membership
from aftercare.tenancy.tests.factories import customer, staff

pytestmark = pytest.mark.django_db
Outcome = InboundMessage.Outcome


def mail(
    sender: str,
    subject: str,
    body: str = "Please see below.",
    *,
    message_id: str = "",
    extra: str = "",
) -> bytes:
    """A plain message as an MTA hands it over (CRLF, no library in between)."""
    head = (
        f"From: {sender}\r\n"
        "To: support@aftercare.test\r\n"
        f"Subject: {subject}\r\n"
        "Date: Tue, 01 Dec 2026 10:00:00 +0200\r\n"
        f"Message-ID: {message_id or '<' + str(abs(hash((sender, subject, body, extra)))) + '@mua.example>'}\r\n"
        f"{extra}"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
    )
    return head.encode() + body.encode() + b"\r\n"


# -- who may write into another organisation's request -----------------------------------


@pytest.fixture
def victim(owner, org):
    """Organisation A's request, with the receipt we mailed about it."""
    owner.email = "ana@alpha.example"
    owner.save()
    return ticket_for(owner, org)


def _restricted(role: str, other_org, username: str):
    user = staff(role, username=username, email=f"{username}@vendor.example")
    AgentRestriction.objects.create(user=user, organisation=other_org)
    return user


SENDERS = {
    "restricted_agent": lambda other_org: _restricted(Role.CONSULTANT, other_org, "rcons"),
    "restricted_manager": lambda other_org: _restricted(Role.MANAGER, other_org, "rman"),
    "customer_of_other_org": lambda other_org: customer(
        other_org, username="bcust", email="bcust@beta.example"
    ),
    "coordinator_of_other_org": lambda other_org: customer(
        other_org, role=Role.COORDINATOR, username="bcoord", email="bcoord@beta.example"
    ),
}
PATHS = ["subject", "token", "in_reply_to", "references"]


def _referring_mail(how: str, ticket: Ticket, sender: str) -> bytes:
    sent = OutboundMail.objects.filter(ticket=ticket).order_by("pk").first()
    if how == "subject":
        return mail(sender, f"Re: [{ticket.number}] Request received", "Public answer.")
    if how == "token":
        return mail(sender, "hello", f"Public answer.\r\n\r\nRef: {reply_token(ticket.number)}")
    if how == "in_reply_to":
        return mail(
            sender, "Re: yours", "Public answer.", extra=f"In-Reply-To: {sent.message_id}\r\n"
        )
    return mail(
        sender, "Re: yours", "Public answer.", extra=f"References: {thread_root(ticket)}\r\n"
    )


@pytest.mark.parametrize("how", PATHS)
@pytest.mark.parametrize("who", list(SENDERS))
def test_nobody_outside_an_organisation_writes_into_its_request_by_mail(
    victim, other_org, how, who
):
    user = SENDERS[who](other_org)
    before = list(victim.messages.values_list("pk", flat=True))
    result = ingest(_referring_mail(how, victim, user.email))
    row = result.inbound
    assert result.created
    # Not appended to A's request ...
    assert list(victim.messages.values_list("pk", flat=True)) == before
    assert row.ticket_id != victim.pk
    assert not Message.objects.filter(author=user, ticket=victim).exists()
    # ... and not lost: staff mail waits in triage, a customer's opens their own request.
    if who.startswith("restricted"):
        assert row.outcome == Outcome.TRIAGE and row.reason == "staff_sender"
    else:
        assert row.outcome == Outcome.TICKET
        assert row.ticket.organisation == other_org and row.ticket.reporter == user
    assert victim.number in row.detail  # the refusal is written down (zammad#5064)


@pytest.mark.parametrize("how", PATHS)
def test_an_agent_restricted_to_the_organisation_still_replies_by_mail(victim, org, how):
    agent = _restricted(Role.CONSULTANT, org, "acons")
    result = ingest(_referring_mail(how, victim, agent.email))
    assert result.outcome == Outcome.REPLY and result.inbound.ticket == victim
    assert victim.messages.latest("pk").author == agent


def test_a_customer_may_not_reply_to_a_teammates_request_by_token(victim, org, teammate):
    teammate.email = "tim@alpha.example"
    teammate.save()
    result = ingest(_referring_mail("token", victim, "tim@alpha.example"))
    assert result.outcome == Outcome.TICKET and result.inbound.ticket != victim
    assert not victim.messages.filter(author=teammate).exists()


def test_an_unknown_outsider_replying_in_thread_is_not_appended(victim):
    result = ingest(_referring_mail("in_reply_to", victim, "mallory@evil.example"))
    assert result.outcome == Outcome.TRIAGE and result.inbound.reason == "unknown_sender"
    assert victim.messages.count() == 1
    assert victim.number in result.inbound.detail


@pytest.mark.parametrize("who", list(SENDERS))
def test_triage_append_adds_an_outsiders_mail_only_as_an_internal_note(
    victim, other_org, operator, who
):
    user = SENDERS[who](other_org)
    # Their own mail, held in triage (no organisation found for it: no membership used).
    row = ingest(mail(user.email, "Something", "Text from outside.")).inbound
    row.outcome = Outcome.TRIAGE
    row.ticket = None
    row.save()
    triage_append(row=row, actor=operator, ticket=victim)
    added = victim.messages.latest("pk")
    assert added.kind == Message.Kind.INTERNAL and added.author == operator
    assert not Message.objects.filter(author=user, ticket=victim).exists()


def test_triage_append_refuses_a_restricted_operator_another_organisations_request(
    victim, other_org
):
    operator = _restricted(Role.OPERATOR, other_org, "rop")
    row = ingest(mail("stranger@nowhere.example", "hi", "text")).inbound
    with pytest.raises(PermissionDenied):
        triage_append(row=row, actor=operator, ticket=victim)
    assert victim.messages.count() == 1


# -- ambiguous senders -------------------------------------------------------------------


def _two_accounts(org, other_org, monkeypatch, address="shared@alpha.example"):
    """Two active accounts with one address (legacy data; refused by the database where
    the unique index on active addresses exists — then the lookup is made to return
    both, as it would on a database from before that index)."""
    first = customer(org, username="shared1", email=address)
    try:
        with transaction.atomic():
            second = customer(other_org, username="shared2", email=address.upper())
    except IntegrityError:
        second = customer(other_org, username="shared2", email="other-" + address)
        real = intake._active_users

        def both(found):
            return [first, second] if found.lower() == address else real(found)

        monkeypatch.setattr(intake, "_active_users", both)
    return first, second


def test_intake_never_picks_one_of_several_accounts(org, other_org, monkeypatch):
    first, second = _two_accounts(org, other_org, monkeypatch)
    victim = ticket_for(first, org)
    result = ingest(mail("Shared <Shared@Alpha.example>", f"Re: [{victim.number}]", "text"))
    assert result.outcome == Outcome.TRIAGE
    assert result.inbound.reason == "ambiguous_sender"
    assert "shared1" in result.inbound.detail and "shared2" in result.inbound.detail
    assert victim.messages.count() == 1
    assert str(intake.REASONS["ambiguous_sender"])


def test_the_operator_chooses_which_account_wrote(org, other_org, operator, monkeypatch):
    first, second = _two_accounts(org, other_org, monkeypatch)
    row = ingest(mail("shared@alpha.example", "Printer", "It jams.")).inbound
    with pytest.raises(TriageError):
        triage_open(row=row, actor=operator, organisation=org, category="incident")
    ticket = triage_open(
        row=row, actor=operator, organisation=org, category="incident", sender_id=first.pk
    )
    assert ticket.reporter == first
    # an account that does not have the address cannot be chosen
    other = ingest(mail("shared@alpha.example", "Scanner", "It jams too.")).inbound
    with pytest.raises(TriageError):
        triage_open(
            row=other, actor=operator, organisation=org, category="incident", sender_id=operator.pk
        )


# -- malformed From ----------------------------------------------------------------------

FAX = (
    b"Return-Path: <scanner@alpha.example>\r\n"
    b"From: HP Digital Sender scanner@alpha.example\r\n"
    b"To: support@aftercare.test\r\n"
    b"Subject: Scanned document\r\n"
    b"Date: Tue, 01 Dec 2026 10:00:00 +0200\r\n"
    b"Message-ID: <scan-0001@mfp.alpha.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="=_scan"\r\n'
    b"\r\n"
    b"--=_scan\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"Scanned on MFP-2 at 09:58.\r\n"
    b"--=_scan\r\n"
    b"Content-Type: application/pdf; name=scan0001.pdf\r\n"
    b"Content-Disposition: attachment; filename=scan0001.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQKJcTl8uXrCg==\r\n"
    b"--=_scan--\r\n"
)


def test_a_gateways_from_without_brackets_is_recovered(org):
    org.mail_domains = "alpha.example"
    org.save()
    result = ingest(FAX)
    assert result.outcome == Outcome.TICKET
    assert result.inbound.sender == "scanner@alpha.example"
    assert result.inbound.ticket.reporter.email == "scanner@alpha.example"
    assert result.inbound.ticket.reporter.first_name == "HP"


def test_without_any_address_the_operator_enters_the_sender(org, operator, client_for):
    raw = FAX.replace(b"HP Digital Sender scanner@alpha.example", b"HP Digital Sender")
    raw = raw.replace(b"scan-0001", b"scan-0002")
    row = ingest(raw).inbound
    assert row.outcome == Outcome.TRIAGE and row.reason == "no_sender"
    with pytest.raises(TriageError):
        triage_open(row=row, actor=operator, organisation=org, category="incident")
    page = client_for(operator).get(reverse("mail:inbound", args=[row.pk]))
    assert 'name="sender_address"' in page.content.decode()
    response = client_for(operator).post(
        reverse("mail:inbound", args=[row.pk]),
        {
            "action": "open",
            "organisation": org.pk,
            "category": "incident",
            "sender_address": "Reception@Alpha.example",
        },
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.outcome == Outcome.TICKET
    assert row.ticket.reporter.email == "reception@alpha.example"
    assert Membership.objects.filter(user=row.ticket.reporter, organisation=org).exists()
    assert [a.name for a in row.ticket.attachments.all()] == ["scan0001.pdf"]


# -- reused Message-IDs ------------------------------------------------------------------


def test_a_different_message_reusing_a_message_id_is_kept_and_processed(
    victim, org, other_org, operator, client_for
):
    boris = customer(other_org, username="boris", email="boris@beta.example")
    first = ingest(mail("ana@alpha.example", "Printer", "It jams.", message_id="<same@x>"))
    second = ingest(mail("boris@beta.example", "Invoice", "Wrong total.", message_id="<same@x>"))
    assert first.created and second.created
    assert second.inbound.pk != first.inbound.pk
    row = second.inbound
    assert row.outcome == Outcome.TICKET and row.ticket.reporter == boris
    assert row.ticket != first.inbound.ticket
    assert row.reused_message_id == "same@x" and row.same_id_as == first.inbound
    assert row.message_id == "" and row.reason == "message_id_reused"
    assert "same@x" in row.detail
    # A true duplicate is still one.
    again = ingest(mail("boris@beta.example", "Invoice", "Wrong total.", message_id="<same@x>"))
    assert not again.created and again.inbound.pk == row.pk
    # Threading follows the first message, never the one that reused its id.
    reply = ingest(
        mail("ana@alpha.example", "Re: Printer", "Still jams.", extra="In-Reply-To: <same@x>\r\n")
    )
    assert reply.outcome == Outcome.REPLY and reply.inbound.ticket == first.inbound.ticket
    # The clash is on the mail pages.
    client = client_for(operator)
    listing = client.get(reverse("mail:log") + "?show=all").content.decode()
    assert "reused Message-ID" in listing
    detail = client.get(reverse("mail:inbound", args=[row.pk])).content.decode()
    assert "message-id-clash" in detail and "same@x" in detail


# -- automatic senders and delivery reports ----------------------------------------------


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.alpha.example", "postmaster@alpha.example"])
def test_mail_from_a_mail_system_gets_no_answer(victim, org, sender):
    org.mail_domains = "alpha.example"
    org.save()
    before = OutboundMail.objects.count()
    result = ingest(mail(sender, "Message delayed", "Your message is queued."))
    assert result.inbound.auto_submitted
    assert result.outcome in (Outcome.TRIAGE, Outcome.IGNORED)
    assert OutboundMail.objects.count() == before
    assert Ticket.objects.count() == 1


def _dsn(original_id: str, recipient: str, *, attached: bool = True) -> bytes:
    returned = (
        "--R\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: support@aftercare.test\r\n"
        f"To: {recipient}\r\n"
        "Subject: [AC] Request received\r\n"
        f"Message-ID: {original_id}\r\n\r\nbody\r\n"
        if attached
        else ""
    )
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.alpha.example>\r\n"
        "To: support@aftercare.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn-{abs(hash((original_id, attached)))}@mx.alpha.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
        "--R\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
        "--R\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.alpha.example\r\n"
        + ("" if attached else f"Original-Message-ID: {original_id}\r\n")
        + f"\r\nFinal-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 mailbox unavailable\r\n\r\n" + returned + "--R--\r\n"
    ).encode()


@pytest.mark.parametrize("attached", [True, False], ids=["attached", "original-message-id"])
def test_a_delivery_report_lands_on_its_request_as_an_internal_note(victim, attached):
    sent = OutboundMail.objects.get(ticket=victim, kind="received")
    result = ingest(_dsn(sent.message_id, "ana@alpha.example", attached=attached))
    assert result.outcome == Outcome.BOUNCE
    assert result.inbound.ticket == victim
    note = victim.events.get(action="mail.bounce")
    assert note.is_internal and "5.1.1" in note.note
    from django.utils import translation

    with translation.override("ro"):  # shown in the reader's language
        assert "5.1.1" in note.display_note and note.display_note != note.note
    assert victim.messages.count() == 1  # nothing public, nothing for the customer
    status = intake.AddressStatus.objects.get(address="ana@alpha.example")
    assert status.suppressed  # the bounce flag as before
    # The report is not part of the thread our later mail continues.
    from aftercare.mail.outbound import _threading

    assert result.inbound.message_id not in _threading(victim)[1]


def test_a_report_naming_someone_else_only_flags_the_address_we_wrote_to(victim, coordinator):
    sent = OutboundMail.objects.get(ticket=victim, kind="received")
    ingest(_dsn(sent.message_id, coordinator.email))
    assert not intake.AddressStatus.objects.filter(address=coordinator.email.lower()).exists()
    assert intake.AddressStatus.objects.filter(address="ana@alpha.example").exists()


# -- headers we write --------------------------------------------------------------------


def test_a_line_break_in_a_subject_does_not_stop_the_notifications(victim, owner, operator):
    from django.core import mail as django_mail
    from django.db import connection

    from aftercare.desk import services
    from aftercare.mail.outbound import send_due

    # PostgreSQL refuses NUL in text columns (the API and forms refuse it too); SQLite
    # stores it, so there the folding of NUL is checked as well.
    nul = "\x00" if connection.vendor == "sqlite" else ""
    Ticket.objects.filter(pk=victim.pk).update(
        subject=f"Printer\r\nBcc: everyone@evil.example{nul}\x1b\u2028broken"
    )
    victim.refresh_from_db()
    services.reply(ticket=victim, actor=operator, body="We are on it.")
    row = OutboundMail.objects.filter(ticket=victim, kind="reply").get()
    assert "\r" not in row.subject and "\n" not in row.subject and "\x00" not in row.subject
    # A row written before the fix (raw CR/LF in its subject) is cleaned when sent.
    OutboundMail.objects.filter(ticket=victim, kind="received").update(
        subject="[x] Request\r\nreceived", state=OutboundMail.State.QUEUED
    )
    counts = send_due()
    assert counts["failed"] == 0 and counts["retry"] == 0 and counts["sent"] >= 2
    for sent in django_mail.outbox:
        message = sent.message()
        assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
        assert message["Bcc"] is None
        assert sent.bcc == []


def test_a_reply_from_the_original_customer_still_threads(victim, owner):
    """Control for the refusals above: the request's own customer writes in by every path."""
    for how in PATHS:
        result = ingest(_referring_mail(how, victim, owner.email))
        assert result.outcome == Outcome.REPLY and result.inbound.ticket == victim, how
