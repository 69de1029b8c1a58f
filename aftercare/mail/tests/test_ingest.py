"""Inbound mail → requests: routing, threading, exactly-once, loops, limits, triage."""

from __future__ import annotations

import pytest
from django.core import mail as django_mail
from django.core.management import call_command

from aftercare.desk import services
from aftercare.desk.models import Channel, Message, Status, Ticket
from aftercare.desk.tests.factories import PNG, ticket_for
from aftercare.mail.ingest import ingest
from aftercare.mail.models import AddressStatus, InboundMessage, Mailbox, OutboundMail
from aftercare.mail.outbound import reply_token, send_due, thread_root
from aftercare.mail.tests.factories import make_mail
from aftercare.tenancy.models import Membership

pytestmark = pytest.mark.django_db
Outcome = InboundMessage.Outcome


def test_new_mail_from_a_customer_opens_a_request_with_its_attachment(alpha, org):
    raw = make_mail(attachments=[("screen shot.png", "image/png", PNG)])
    result = ingest(raw, source="test")
    assert result.created and result.outcome == Outcome.TICKET
    ticket = result.inbound.ticket
    assert ticket.organisation == org
    assert ticket.reporter == alpha
    assert ticket.channel == Channel.EMAIL
    assert ticket.subject == "Stock report shows negative balances"
    assert "negative balances" in ticket.description
    assert [a.name for a in ticket.attachments.all()] == ["screen shot.png"]
    with ticket.attachments.get().file.open("rb") as fh:
        assert fh.read() == PNG
    # The customer is told the number (in their language), threaded under the request.
    mail = OutboundMail.objects.get(ticket=ticket, kind="received")
    assert mail.to_address == "ana@alpha.example"
    assert ticket.number in mail.subject
    assert send_due()["sent"] == 1
    sent = django_mail.outbox[0].extra_headers
    assert sent["References"] == f"{thread_root(ticket)} <{result.inbound.message_id}>"
    assert sent["In-Reply-To"] == f"<{result.inbound.message_id}>"


def test_the_same_message_twice_is_stored_once(alpha):
    raw = make_mail(message_id="<once@alpha.example>")
    first = ingest(raw)
    second = ingest(raw)
    # Re-delivered through another route: other trace headers, same Message-ID.
    third = ingest(b"Received: from relay.example by mx.example; Tue, 1 Dec 2026\r\n" + raw)
    assert first.created and not second.created and not third.created
    assert second.inbound.pk == first.inbound.pk == third.inbound.pk
    assert Ticket.objects.count() == 1


def test_without_message_id_the_content_hash_deduplicates(alpha):
    raw = make_mail(message_id=None)
    assert ingest(raw).created
    assert not ingest(b"Received: from a.example by b.example; Tue, 1 Dec 2026\r\n" + raw).created
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize("how", ["subject", "in_reply_to", "references", "token"])
def test_a_reply_is_threaded_to_its_request(alpha, org, how):
    ticket = ticket_for(alpha, org)
    sent = OutboundMail.objects.filter(ticket=ticket).first()
    kwargs = {"subject": "Re: stock report"}
    if how == "subject":
        kwargs["subject"] = f"RE: [{ticket.number}] Request received"
    elif how == "in_reply_to":
        kwargs["in_reply_to"] = sent.message_id
    elif how == "references":
        kwargs["references"] = f"<unrelated@x.example> {thread_root(ticket)}"
    else:
        kwargs["body"] = f"More detail.\n\n-- \nReference: {reply_token(ticket.number)}"
    result = ingest(
        make_mail(body="Here is the export you asked for.", **kwargs)
        if how != "token"
        else make_mail(**kwargs)
    )
    assert result.outcome == Outcome.REPLY
    assert result.inbound.ticket == ticket
    assert Ticket.objects.count() == 1
    message = Message.objects.filter(ticket=ticket).latest("pk")
    assert message.author == alpha and message.channel == Channel.EMAIL


def test_a_forged_reply_token_is_not_trusted(alpha, org, outsider):
    ticket = ticket_for(alpha, org)
    outsider.email = "boris@beta.example"
    outsider.save()
    body = f"Reference: {ticket.number}.0000000000"
    result = ingest(make_mail(sender="boris@beta.example", subject="hello", body=body))
    assert result.outcome == Outcome.TICKET
    assert result.inbound.ticket != ticket


def test_a_number_from_another_organisation_does_not_leak_into_its_request(
    alpha, org, outsider, other_org
):
    """zammad#5064: customer B quoting A's number opens B's own request; A is untouched."""
    ticket = ticket_for(alpha, org)
    outsider.email = "boris@beta.example"
    outsider.save()
    before = ticket.messages.count()
    result = ingest(make_mail(sender="boris@beta.example", subject=f"Re: [{ticket.number}] hi"))
    assert result.outcome == Outcome.TICKET
    assert result.inbound.ticket.organisation == other_org
    assert ticket.messages.count() == before
    assert ticket.number in result.inbound.detail


def test_a_reply_to_a_waiting_request_resumes_it(alpha, org, operator):
    ticket = ticket_for(alpha, org)
    services.transition(ticket=ticket, actor=operator, target=Status.WAITING)
    ingest(make_mail(subject=f"Re: [{ticket.number}]", body="The data is attached."))
    ticket.refresh_from_db()
    assert ticket.status == Status.BACKLOG


def test_mail_to_an_archived_request_opens_a_follow_up(alpha, org, operator):
    ticket = ticket_for(alpha, org)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.ARCHIVED)
    result = ingest(make_mail(subject=f"Re: [{ticket.number}] still broken"))
    assert result.outcome == Outcome.TICKET
    follow_up = result.inbound.ticket
    assert follow_up != ticket
    assert follow_up.events.filter(action="mail.follow_up", note__contains=ticket.number).exists()


def test_quoted_history_is_folded_and_the_signature_kept(alpha):
    body = (
        "Thank you, it works now.\n\n-- \nAna Popescu\nAlpha Foods\n\n"
        "On Mon, 23 Nov 2026 at 10:00, Aftercare <support@aftercare.test> wrote:\n"
        "> We have registered your request.\n> Reply to this message.\n"
    )
    result = ingest(make_mail(body=body))
    message = result.inbound.ticket.messages.get()
    assert message.body.startswith("Thank you, it works now.")
    assert "Ana Popescu" in message.body
    assert "We have registered" not in message.body
    assert "We have registered your request." in message.quoted


def test_html_only_mail_is_sanitised_and_rendered_as_text(alpha):
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "ana@alpha.example"
    msg["To"] = "support@aftercare.test"
    msg["Subject"] = "Printing"
    msg["Message-ID"] = "<html-only@alpha.example>"
    msg.set_content(
        "<p>The <b>invoice</b> does not print.</p><script>alert(1)</script>"
        '<a href="javascript:alert(2)" onclick="x()">click</a>',
        subtype="html",
    )
    result = ingest(msg.as_bytes())
    message = result.inbound.ticket.messages.get()
    assert "The invoice does not print." in message.body
    assert "<script" not in message.html and "javascript:" not in message.html
    assert "onclick" not in message.html
    assert "<b>invoice</b>" in message.html


def test_an_executable_attachment_is_refused_but_the_request_is_kept(alpha):
    raw = make_mail(
        attachments=[
            ("tool.exe", "application/octet-stream", b"MZ\x90\x00" + b"\x00" * 100),
            ("ok.png", "image/png", PNG),
        ]
    )
    result = ingest(raw)
    ticket = result.inbound.ticket
    assert [a.name for a in ticket.attachments.all()] == ["ok.png"]
    assert "tool.exe" in result.inbound.detail
    note = ticket.events.get(action="mail.attachments_refused", is_internal=True)
    from django.utils import translation

    with translation.override("uk"):
        assert "tool.exe" in note.display_note and note.display_note != note.note


def test_unknown_senders_wait_in_triage(db):
    result = ingest(make_mail(sender="stranger@nowhere.example"))
    assert result.outcome == Outcome.TRIAGE and result.inbound.reason == "unknown_sender"
    assert Ticket.objects.count() == 0
    assert result.inbound.raw  # kept for the operator


def test_a_sender_from_a_known_domain_becomes_a_contact(org):
    org.mail_domains = "alpha.example, alpha-foods.example"
    org.save()
    result = ingest(make_mail(sender="Ion Ionescu <ion@alpha-foods.example>"))
    assert result.outcome == Outcome.TICKET
    reporter = result.inbound.ticket.reporter
    assert reporter.email == "ion@alpha-foods.example"
    assert reporter.first_name == "Ion" and reporter.last_name == "Ionescu"
    assert not reporter.has_usable_password()
    assert Membership.objects.filter(user=reporter, organisation=org).exists()


def test_a_mailbox_can_register_unknown_senders_for_its_organisation(org):
    mailbox = Mailbox.objects.create(
        name="alpha",
        address="alpha-support@aftercare.test",
        host="x",
        username="x",
        default_organisation=org,
        register_unknown_senders=True,
        default_category="consultation",
    )
    result = ingest(make_mail(sender="new@gmail.example"), mailbox=mailbox)
    assert result.outcome == Outcome.TICKET
    assert result.inbound.ticket.organisation == org
    assert result.inbound.ticket.category == "consultation"


def test_a_member_of_several_organisations_is_asked_about_in_triage(alpha, org, other_org):
    Membership.objects.create(user=alpha, organisation=other_org)
    org.mail_domains = ""
    org.save()
    result = ingest(make_mail())
    assert result.outcome == Outcome.TRIAGE and result.inbound.reason == "several_organisations"


def test_staff_writing_to_the_support_address_goes_to_triage(operator):
    operator.email = "op@vendor.example"
    operator.save()
    result = ingest(make_mail(sender="op@vendor.example"))
    assert result.outcome == Outcome.TRIAGE and result.inbound.reason == "staff_sender"


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"X-Autoreply": "yes"},
        {"X-Auto-Response-Suppress": "All", "Auto-Submitted": "auto-generated"},
    ],
)
def test_automatic_replies_never_open_requests_or_get_answers(alpha, org, headers):
    ticket = ticket_for(alpha, org)
    before = OutboundMail.objects.count()
    result = ingest(make_mail(subject=f"Out of office: [{ticket.number}]", headers=headers))
    assert result.outcome == Outcome.IGNORED
    assert ticket.messages.count() == 1
    fresh = ingest(make_mail(subject="Out of office", headers=headers, body="Back Monday"))
    assert fresh.outcome == Outcome.TRIAGE and fresh.inbound.reason == "automatic"
    assert OutboundMail.objects.count() == before


def test_our_own_mail_coming_back_is_ignored(alpha, settings):
    headers = {"X-Aftercare-Loop": settings.AFTERCARE_MAIL_DOMAIN}
    assert ingest(make_mail(headers=headers)).outcome == Outcome.IGNORED
    from_us = make_mail(sender="Aftercare <support@localhost>", subject="loop")
    assert ingest(from_us).outcome == Outcome.IGNORED
    assert Ticket.objects.count() == 0


def dsn(original_id: str, recipient: str = "gone@alpha.example") -> bytes:
    """A Postfix-style delivery status notification returning the message ``original_id``."""
    return f"""From: MAILER-DAEMON@mx.example
To: support@aftercare.test
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-{original_id.strip("<>")}>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system. Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--B
Content-Type: text/rfc822-headers

From: support@aftercare.test
To: {recipient}
Subject: [AC-2026-000001] Request received
Message-ID: {original_id}

--B--
""".encode()


def test_a_bounce_is_recorded_on_the_address_and_stops_mail_to_it(alpha, org):
    alpha.email = "gone@alpha.example"
    alpha.save()
    first = ticket_for(alpha, org)
    sent = OutboundMail.objects.get(ticket=first, kind="received")
    result = ingest(dsn(sent.message_id))
    assert result.outcome == Outcome.BOUNCE
    status = AddressStatus.objects.get(address="gone@alpha.example")
    assert status.suppressed and status.bounce_count == 1 and "5.1.1" in status.bounce_reason
    sent.refresh_from_db()
    assert "5.1.1" in sent.last_error
    assert Ticket.objects.count() == 1
    second = ticket_for(alpha, org)
    mail = OutboundMail.objects.get(ticket=second, kind="received")
    assert mail.state == OutboundMail.State.SUPPRESSED and "bounced" in mail.last_error


def test_a_forged_bounce_cannot_silence_a_customer(alpha, org):
    result = ingest(dsn("<never-sent@aftercare.invalid>", recipient="ana@alpha.example"))
    assert result.outcome == Outcome.BOUNCE
    assert "no address was changed" in result.inbound.detail
    assert not AddressStatus.objects.exists()
    ticket = ticket_for(alpha, org)
    assert OutboundMail.objects.get(ticket=ticket, kind="received").state == "queued"


def test_a_message_over_the_limit_is_kept_as_rejected_and_the_sender_told_once(alpha, settings):
    settings.AFTERCARE_MAIL_MAX_BYTES = 50_000
    big = make_mail(attachments=[("big.pdf", "application/pdf", b"%PDF-" + b"x" * 60_000)])
    first = ingest(big)
    assert first.outcome == Outcome.REJECTED and first.inbound.reason == "too_large"
    assert first.inbound.sender == "ana@alpha.example"
    assert first.inbound.subject == "Stock report shows negative balances"
    second = ingest(make_mail(attachments=[("b.pdf", "application/pdf", b"%PDF-" + b"y" * 60_000)]))
    assert second.outcome == Outcome.REJECTED
    told = OutboundMail.objects.filter(kind="mail_rejected", to_address="ana@alpha.example")
    assert told.count() == 1
    assert Ticket.objects.count() == 0


def test_too_deep_nesting_is_rejected_not_crashing(alpha, settings):
    settings.AFTERCARE_MAIL_MAX_DEPTH = 3
    parts = "".join(
        f'--b{i}\r\nContent-Type: multipart/mixed; boundary="b{i + 1}"\r\n\r\n' for i in range(6)
    )
    raw = (
        "From: ana@alpha.example\r\nTo: s@x\r\nSubject: deep\r\nMessage-ID: <deep@x>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n'
        + parts
        + "--b6\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    ).encode()
    result = ingest(raw)
    assert result.outcome == Outcome.REJECTED and result.inbound.reason == "too_deep"


def test_a_sender_over_the_daily_cap_is_refused_quietly(alpha, settings):
    settings.AFTERCARE_MAIL_SENDER_DAILY_CAP = 3
    outcomes = [ingest(make_mail(subject=f"n{i}")).outcome for i in range(5)]
    assert outcomes == [Outcome.TICKET] * 3 + [Outcome.REJECTED] * 2
    assert InboundMessage.objects.filter(reason="rate_limited").count() == 2
    assert not OutboundMail.objects.filter(kind="mail_rejected").exists()


def test_automatic_answers_to_one_address_are_capped_per_day(alpha, settings):
    settings.AFTERCARE_MAIL_AUTOREPLY_DAILY_CAP = 2
    for i in range(4):
        ingest(make_mail(subject=f"request {i}"))
    states = list(
        OutboundMail.objects.filter(kind="received").order_by("pk").values_list("state", flat=True)
    )
    assert states == ["queued", "queued", "suppressed", "suppressed"]


def test_a_bug_in_routing_keeps_the_message_as_failed(alpha, monkeypatch):
    from aftercare.mail import ingest as module

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "_route", broken)
    result = ingest(make_mail())
    assert result.outcome == Outcome.REJECTED and result.inbound.reason == "processing_failed"
    assert "boom" in result.inbound.detail and result.inbound.raw
    assert Ticket.objects.count() == 0


def test_ingest_mail_command_reads_stdin_files_and_mbox(alpha, tmp_path, monkeypatch, capsys):
    import io
    import sys

    one = tmp_path / "one.eml"
    one.write_bytes(make_mail(subject="from a file"))
    mbox = tmp_path / "old.mbox"
    mbox.write_bytes(
        b"From ana@alpha.example Mon Nov 23 10:00:00 2026\n"
        + make_mail(subject="mbox one").replace(b"\r\n", b"\n")
        + b"\nFrom ana@alpha.example Mon Nov 23 11:00:00 2026\n"
        + make_mail(subject="mbox two").replace(b"\r\n", b"\n")
    )
    call_command("ingest_mail", str(one), str(mbox))
    assert "ticket: 3" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(make_mail(subject="piped"))))
    call_command("ingest_mail")
    assert set(Ticket.objects.values_list("subject", flat=True)) == {
        "from a file",
        "mbox one",
        "mbox two",
        "piped",
    }


def test_a_bounced_address_is_flagged_on_the_customer_page(alpha, org, operator, client_for):
    from django.urls import reverse

    alpha.email = "gone@alpha.example"
    alpha.save()
    sent = OutboundMail.objects.get(ticket=ticket_for(alpha, org), kind="received")
    ingest(dsn(sent.message_id))
    page = client_for(operator).get(reverse("console:organisation", args=[org.code]))
    assert "mail bounced" in page.content.decode()
