"""Intake in batches (``ingest_many``, ``intake_batch``): the same outcomes as message by
message, shared look-ups, and only writes inside each message's transaction."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aftercare.accounts.models import User
from aftercare.desk.models import Ticket
from aftercare.mail import ingest as intake
from aftercare.mail.ingest import ingest, ingest_many, intake_batch
from aftercare.mail.models import InboundMessage, Mailbox
from aftercare.mail.tests.factories import make_mail

pytestmark = pytest.mark.django_db
Outcome = InboundMessage.Outcome


def test_a_batch_opens_requests_threads_replies_and_skips_its_own_duplicates(alpha, org):
    first = make_mail(subject="Printer", message_id="<b1@alpha.example>")
    reply = make_mail(subject="Re: Printer", in_reply_to="<b1@alpha.example>", body="More.")
    other = make_mail(subject="Export", message_id="<b3@alpha.example>")
    results = ingest_many([first, reply, first, other], source="test")
    assert [r.outcome for r in results] == [
        Outcome.TICKET,
        Outcome.REPLY,
        Outcome.TICKET,
        Outcome.TICKET,
    ]
    assert [r.created for r in results] == [True, True, False, True]
    assert results[2].inbound.pk == results[0].inbound.pk  # the copy is the first message
    assert results[1].inbound.ticket == results[0].inbound.ticket
    assert Ticket.objects.count() == 2 and InboundMessage.objects.count() == 3
    # A later batch knows the earlier one's messages.
    again = ingest_many([other, make_mail(subject="New")])
    assert [r.created for r in again] == [False, True]


def test_an_unknown_sender_is_registered_once_in_a_batch(org):
    mailbox = Mailbox.objects.create(
        name="alpha",
        address="alpha-support@aftercare.test",
        host="x",
        username="x",
        default_organisation=org,
        register_unknown_senders=True,
    )
    raws = [make_mail(sender="New <new@gmail.example>", subject=f"n{i}") for i in range(3)]
    results = ingest_many(raws, mailbox=mailbox)
    assert [r.outcome for r in results] == [Outcome.TICKET] * 3
    assert User.objects.filter(email="new@gmail.example").count() == 1
    assert {r.inbound.ticket.reporter.email for r in results} == {"new@gmail.example"}
    assert org.memberships.filter(user__email="new@gmail.example").count() == 1


def test_the_daily_cap_counts_the_messages_of_the_batch(alpha, settings):
    settings.AFTERCARE_MAIL_SENDER_DAILY_CAP = 3
    ingest(make_mail(subject="before"))
    results = ingest_many([make_mail(subject=f"n{i}") for i in range(4)])
    assert [r.outcome for r in results] == [Outcome.TICKET] * 2 + [Outcome.REJECTED] * 2
    assert {r.inbound.reason for r in results[2:]} == {"rate_limited"}


def test_a_mailbox_added_between_batches_is_seen_as_ours(alpha):
    assert ingest_many([make_mail(sender="desk@vendor.example")])[0].outcome == Outcome.TRIAGE
    Mailbox.objects.create(name="desk", address="desk@vendor.example", host="x", username="x")
    result = ingest_many([make_mail(sender="desk@vendor.example", subject="loop")])[0]
    assert result.outcome == Outcome.IGNORED and result.inbound.reason == "own_mail"


def test_a_batch_shares_its_look_ups(alpha, org):
    """Ten messages of one sender: the mailboxes, the duplicates, the day's count, the
    account and its organisation are looked up once, not ten times."""
    raws = [make_mail(subject=f"one {i}") for i in range(10)]
    with CaptureQueriesContext(connection) as single:
        for raw in raws[:5]:
            ingest(raw)
    with CaptureQueriesContext(connection) as batched:
        ingest_many(raws[5:])

    def count(ctx, fragment):
        return sum(fragment in q["sql"] for q in ctx.captured_queries)

    assert count(single, 'FROM "mail_mailbox"') == 5
    assert count(batched, 'FROM "mail_mailbox"') == 1
    assert count(single, 'FROM "accounts_user"') >= 5
    assert count(batched, 'FROM "accounts_user"') == 1
    assert count(batched, 'COUNT("mail_inboundmessage"."id")') == 1
    assert len(batched.captured_queries) < len(single.captured_queries) - 20


def test_intake_batch_shares_look_ups_between_single_calls(alpha):
    with CaptureQueriesContext(connection) as ctx, intake_batch():
        for i in range(3):
            assert ingest(make_mail(subject=f"polled {i}")).outcome == Outcome.TICKET
    assert sum('FROM "mail_mailbox"' in q["sql"] for q in ctx.captured_queries) == 1


def _inside_the_write(ctx) -> list[str]:
    """The statements between the message's transaction (its outermost savepoint inside
    the test's own transaction) opening and closing."""
    sqls = [q["sql"] for q in ctx.captured_queries]
    start = next(i for i, s in enumerate(sqls) if s.startswith("SAVEPOINT"))
    name = sqls[start].split()[1]
    end = next(i for i, s in enumerate(sqls) if s == f"RELEASE SAVEPOINT {name}")
    return sqls[start + 1 : end]


@pytest.mark.parametrize("kind", ["new", "reply"])
def test_routing_reads_before_the_write_transaction(alpha, org, kind):
    """Inside the transaction the intake writes its row and calls the desk; who wrote,
    which request, which organisation, duplicates and the daily cap were read before."""
    first = ingest(make_mail(subject="first", message_id="<first@alpha.example>"))
    raw = (
        make_mail(subject="Re: first", in_reply_to="<first@alpha.example>")
        if kind == "reply"
        else make_mail(subject="second")
    )
    with CaptureQueriesContext(connection) as ctx:
        result = ingest(raw)
    assert result.outcome == (Outcome.REPLY if kind == "reply" else Outcome.TICKET)
    assert first.inbound.ticket_id
    inside = _inside_the_write(ctx)
    assert inside[0].startswith('INSERT INTO "mail_inboundmessage"')
    for fragment in (
        'FROM "mail_mailbox"',
        'FROM "accounts_user"',
        'COUNT("mail_inboundmessage"."id")',
        'FROM "mail_inboundmessage"',
        'SELECT DISTINCT "tenancy_organisation"',
        'FROM "mail_outboundmail" WHERE ("mail_outboundmail"."message_id"',
    ):
        assert not [s for s in inside if fragment in s], fragment


def test_a_bug_while_looking_up_keeps_the_message_as_failed(alpha, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("look-up broke")

    monkeypatch.setattr(intake, "_referenced_ticket", broken)
    result = ingest_many([make_mail()])[0]
    assert result.outcome == Outcome.REJECTED and result.inbound.reason == "processing_failed"
    assert "look-up broke" in result.inbound.detail
    assert Ticket.objects.count() == 0
