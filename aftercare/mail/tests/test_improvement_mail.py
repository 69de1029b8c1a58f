"""Mail classified as an improvement proposal by its sender: a subject tag or an alias."""

from __future__ import annotations

import pytest

from aftercare.desk.models import Category, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.mail.ingest import ingest
from aftercare.mail.models import InboundMessage, Mailbox
from aftercare.mail.tests.factories import make_mail

pytestmark = pytest.mark.django_db
Outcome = InboundMessage.Outcome


@pytest.fixture
def mailbox(org):
    return Mailbox.objects.create(
        name="support",
        address="support@aftercare.test",
        improvement_address="Ideas@aftercare.test",
        host="imap.aftercare.test",
        username="support",
        default_category=Category.CONSULTATION,
    )


@pytest.mark.parametrize(
    ("subject", "clean"),
    [
        ("[improvement] Export the stock report to Excel", "Export the stock report to Excel"),
        ("[Suggestion] Remember the last warehouse", "Remember the last warehouse"),
        ("Raport stocuri: [Îmbunătățire] coloana lot", "Raport stocuri: coloana lot"),
        ("[propunere] Filtru după furnizor", "Filtru după furnizor"),
        ("[Amélioration] Trier les factures par date", "Trier les factures par date"),
        ("[ПРОПОЗИЦІЯ] Друк накладних пакетом", "Друк накладних пакетом"),
        ("[предложение] Печать накладных пачкой", "Печать накладных пачкой"),
        ("[ улучшение ] Отчёт по остаткам", "Отчёт по остаткам"),
    ],
)
def test_a_subject_tag_opens_an_improvement_suggestion(alpha, mailbox, subject, clean):
    raw = make_mail(
        subject=subject,
        body="Hello,\n\nit would save us an hour a day.\n\nAna Pop\nAlpha Foods",
    )
    result = ingest(raw, mailbox=mailbox)
    assert result.outcome == Outcome.TICKET
    ticket = result.inbound.ticket
    assert ticket.category == Category.IMPROVEMENT
    assert ticket.subject == clean


@pytest.mark.parametrize(
    "subject",
    [
        "Improvement needed: the stock report is slow",  # a word, not a tag
        "[urgent] Stock report shows negative balances",
        "[improvements-team] Stock report",
    ],
)
def test_mail_without_the_tag_keeps_the_mailbox_default(alpha, mailbox, subject):
    ticket = ingest(make_mail(subject=subject), mailbox=mailbox).inbound.ticket
    assert ticket.category == Category.CONSULTATION
    assert ticket.subject == subject


def test_mail_to_the_proposals_alias_opens_an_improvement_suggestion(alpha, mailbox):
    raw = make_mail(
        to="Alpha ideas <ideas@aftercare.test>",
        subject="Warehouse picking list sorted by shelf",
        headers={"Cc": "boss@alpha.example"},
    )
    ticket = ingest(raw, mailbox=mailbox).inbound.ticket
    assert ticket.category == Category.IMPROVEMENT
    assert ticket.subject == "Warehouse picking list sorted by shelf"
    # The same alias found when the message arrives without a mailbox (piped in).
    raw = make_mail(to="support@aftercare.test", headers={"Cc": "ideas@aftercare.test"})
    assert ingest(raw).inbound.ticket.category == Category.IMPROVEMENT
    # Mail only to the support address: the default.
    other = ingest(make_mail(subject="Printer offline"), mailbox=mailbox).inbound.ticket
    assert other.category == Category.CONSULTATION


def test_a_tagged_reply_never_reclassifies_the_request(alpha, org, mailbox):
    ticket = ticket_for(alpha, org, subject="Invoices do not post")
    raw = make_mail(subject=f"Re: [{ticket.number}] [improvement] Invoices do not post")
    result = ingest(raw, mailbox=mailbox)
    assert result.outcome == Outcome.REPLY
    ticket.refresh_from_db()
    assert ticket.category == Category.INCIDENT
    assert Ticket.objects.count() == 1


def test_another_organisations_proposal_stays_in_its_organisation(
    alpha, org, other_org, outsider, mailbox
):
    """A customer of Beta naming Alpha's request in a tagged mail to the alias gets a new
    Beta request; Alpha's request is not touched, nor classified."""
    outsider.email = "olga@beta.example"
    outsider.save()
    alpha_ticket = ticket_for(alpha, org, subject="Alpha ledger")
    raw = make_mail(
        sender="Olga <olga@beta.example>",
        to="ideas@aftercare.test",
        subject=f"[{alpha_ticket.number}] [ідея] Ledger export",
    )
    result = ingest(raw, mailbox=mailbox)
    alpha_ticket.refresh_from_db()
    assert alpha_ticket.category == Category.INCIDENT
    assert not alpha_ticket.messages.filter(author=outsider).exists()
    created = result.inbound.ticket
    assert created is not None and created.organisation == other_org
    assert created.category == Category.IMPROVEMENT
