"""The whole third-party corpus through the intake, as if it arrived in one mailbox.

Every message either becomes a request (or a reply) with the right subject, sender, body
text and attachments, or is kept with a reason (rejected, bounce, automatic, triage) —
and none makes the intake fail. The mailbox registers unknown senders, so ordinary mail
from strangers becomes requests and the checks below see them.
"""

from __future__ import annotations

import pytest

from aftercare.desk.models import Ticket
from aftercare.mail.ingest import NOT_FILES, _body, _uploads, ingest
from aftercare.mail.models import InboundMessage, Mailbox
from aftercare.mail.parsing import MailRejected, parse

from .corpus import (
    SKIP_REASON,
    corpus_available,
    corpus_id,
    expectation_path,
    load_expectation,
    message_files,
)
from .test_corpus_parsing import SENDER_DEVIATIONS

pytestmark = [
    pytest.mark.skipif(not corpus_available(), reason=SKIP_REASON),
    pytest.mark.django_db,
]
Outcome = InboundMessage.Outcome
KEPT_WITH_A_REASON = {Outcome.REJECTED, Outcome.BOUNCE, Outcome.IGNORED, Outcome.TRIAGE}


@pytest.fixture
def mailbox(org):
    return Mailbox.objects.create(
        name="corpus",
        address="support@aftercare.test",
        host="unused",
        username="unused",
        default_organisation=org,
        register_unknown_senders=True,
    )


@pytest.mark.parametrize("path", message_files(), ids=corpus_id)
def test_every_corpus_message_is_filed_or_kept_with_a_reason(path, mailbox, org):
    raw = path.read_bytes()
    result = ingest(raw, mailbox=mailbox, source=corpus_id(path))
    row = result.inbound
    assert result.created
    assert row.reason != "processing_failed", row.detail
    assert row.raw  # what arrived is kept, whatever happened to it
    if row.outcome in KEPT_WITH_A_REASON:
        assert row.reason, f"{row.outcome} without a reason"
        assert row.ticket_id is None or row.outcome == Outcome.IGNORED
        return
    assert row.outcome in (Outcome.TICKET, Outcome.REPLY)
    parsed = parse(raw)
    ticket = row.ticket
    message = row.ticket_message
    assert message is not None and message.ticket_id == ticket.pk
    text, quoted = _body(parsed)
    assert message.body == text and message.quoted == quoted
    assert message.html == parsed.html
    assert ticket.reporter.email.lower() == parsed.from_address
    if row.outcome == Outcome.TICKET:
        assert ticket.subject == (parsed.subject[:250] or "(no subject)")
    # Every attachment the desk accepts is stored under its own name; the rest are named
    # in the row's detail (and on the ticket's internal timeline).
    accepted = [u.name for u in _uploads(InboundMessage(), parsed)]
    assert sorted(message.attachments.values_list("name", flat=True)) == sorted(
        n[:200] for n in accepted
    )
    files = [a for a in parsed.attachments if a.content_type not in NOT_FILES]
    refused = len(files) - len(accepted)
    if refused:
        assert row.detail


@pytest.mark.parametrize("path", [p for p in message_files() if expectation_path(p)], ids=corpus_id)
def test_zammad_expectations_hold_through_the_intake(path, mailbox):
    expected = load_expectation(expectation_path(path))
    raw = path.read_bytes()
    try:
        parse(raw)
    except MailRejected:
        pytest.skip("rejected by a limit; test_every_corpus_message covers the reason")
    row = ingest(raw, mailbox=mailbox).inbound
    if row.outcome != Outcome.TICKET:
        assert row.reason
        return
    subject = " ".join(str(expected.get("subject") or "").split())
    if subject:
        assert " ".join(row.ticket.subject.split()) == subject[:250].strip()
    sender = str(expected.get("from_email") or "")
    ours = row.ticket.reporter.email
    if path.name in SENDER_DEVIATIONS:  # explained where the parser is checked
        assert SENDER_DEVIATIONS[path.name](sender, ours)
    elif sender and "@" in sender:
        assert ours == sender.lower()


def test_the_corpus_outcomes_add_up(mailbox):
    """One pass over everything: a summary a reader can check against the corpus."""
    counts: dict[str, int] = {}
    for path in message_files():
        result = ingest(path.read_bytes(), mailbox=mailbox, source=corpus_id(path))
        key = result.outcome if result.created else "duplicate"
        counts[key] = counts.get(key, 0) + 1
    assert sum(counts.values()) == len(message_files())
    assert counts.get(Outcome.TICKET, 0) > len(message_files()) // 2, counts
    assert Ticket.objects.count() == counts.get(Outcome.TICKET, 0)


def test_no_corpus_message_is_dropped_even_when_message_ids_repeat(mailbox):
    """Every distinct message of the corpus (by content) has its own row — also those
    whose Message-ID another, different message already used — and a reused id is
    written on the row."""
    from aftercare.mail.parsing import content_hash

    hashes = set()
    for path in message_files():
        raw = path.read_bytes()
        hashes.add(content_hash(raw))
        result = ingest(raw, mailbox=mailbox, source=corpus_id(path))
        assert result.inbound.content_hash == content_hash(raw)  # only a true duplicate
    assert InboundMessage.objects.count() == len(hashes)
    for row in InboundMessage.objects.exclude(reused_message_id=""):
        assert row.same_id_as_id and row.reused_message_id in row.detail
        assert row.message_id == ""
