"""The offer mail: PDF attached, a one-time confirm/decline link, and replies."""

from __future__ import annotations

import re

import pytest
from django.core import mail as django_mail
from django.test import Client

from aftercare.mail.ingest import ingest
from aftercare.mail.models import InboundMessage, OutboundMail
from aftercare.mail.outbound import send_due
from aftercare.mail.tests.factories import make_mail
from aftercare.saas.mailhook import decision_word
from aftercare.saas.models import Offer, State
from aftercare.saas.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer(consultant):
    lead = f.lead(email="ana@newco.example", language="ro")
    # The quote request's notices (staff, the receipt) are tested in test_notify.py.
    assert OutboundMail.objects.filter(kind="saas_quote_received").count() == 1
    OutboundMail.objects.filter(kind__startswith="saas_").delete()
    return f.sent(lead, consultant)


def _link(row: OutboundMail) -> str:
    return re.search(r"https?://\S+/quote/offer/\S+/", row.body_text).group(0)


def test_the_offer_is_mailed_to_the_contact_with_the_pdf_attached(offer):
    row = OutboundMail.objects.get(kind="offer")
    assert row.to_address == "ana@newco.example"
    assert row.language == "ro"
    assert offer.number in row.subject
    assert send_due()["sent"] == 1
    sent = django_mail.outbox[-1]
    assert sent.to == ["ana@newco.example"]
    ((name, content, mimetype),) = sent.attachments
    assert name.endswith(".pdf") and mimetype == "application/pdf"
    with offer.pdf.open("rb") as fh:
        assert content == fh.read()
    assert "/quote/offer/" in sent.body


def test_the_offer_mail_reaches_a_real_smtp_server_with_its_attachment(offer, smtp_sink):
    assert send_due()["sent"] == 1
    (received,) = smtp_sink.wait_for(1)
    assert received.recipients == ["ana@newco.example"]
    parts = [
        p for p in received.message.iter_attachments() if p.get_content_type() == "application/pdf"
    ]
    assert len(parts) == 1
    with offer.pdf.open("rb") as fh:
        assert parts[0].get_content() == fh.read()


def test_the_link_shows_the_offer_on_get_and_decides_once_on_post(offer):
    url = _link(OutboundMail.objects.get(kind="offer")).split("://", 1)[1].split("/", 1)[1]
    url = "/" + url
    client = Client()
    response = client.get(url)
    assert response.status_code == 200
    assert offer.number in response.content.decode()
    offer.refresh_from_db()
    assert offer.status == Offer.Status.SENT  # nothing changes on GET
    assert client.post(url, {"decision": "maybe"}).status_code == 400
    response = client.post(url, {"decision": "confirm", "note": "Mulțumim"})
    assert response.status_code == 200
    offer.refresh_from_db()
    assert (offer.status, offer.decided_via, offer.decided_by_name) == (
        Offer.Status.CONFIRMED,
        Offer.Via.LINK,
        "ana@newco.example",
    )
    assert offer.migration.state == State.CONFIRMED
    assert client.post(url, {"decision": "decline"}).status_code == 409
    offer.refresh_from_db()
    assert offer.status == Offer.Status.CONFIRMED


def test_a_forged_link_is_refused(offer):
    url = "/" + _link(OutboundMail.objects.get(kind="offer")).split("://", 1)[1].split("/", 1)[1]
    forged = url[:-7] + "forged/"
    assert Client().get(forged).status_code == 404
    assert Client().post(forged, {"decision": "confirm"}).status_code == 404


def _reply(offer_mail: OutboundMail, sender: str, body: str):
    return ingest(
        make_mail(
            sender=sender,
            subject=f"Re: {offer_mail.subject}",
            body=body,
            in_reply_to=offer_mail.message_id,
            references=offer_mail.message_id,
        )
    )


@pytest.mark.parametrize(
    "word", ["Confirm", "accept", "Confirmăm oferta", "J'accepte", "Підтверджую", "Подтверждаю."]
)
def test_a_reply_with_a_confirm_word_from_the_contact_confirms_the_offer(offer, word):
    row = OutboundMail.objects.get(kind="offer")
    result = _reply(row, "Ana <ana@newco.example>", f"{word}\n\n> quoted offer text")
    offer.refresh_from_db()
    assert offer.status == Offer.Status.CONFIRMED
    assert offer.decided_via == Offer.Via.EMAIL
    assert result.inbound.outcome == InboundMessage.Outcome.APPROVAL
    assert offer.migration.state == State.CONFIRMED


def test_a_reply_declining_declines(offer):
    _reply(OutboundMail.objects.get(kind="offer"), "ana@newco.example", "Refuzăm, mulțumim")
    # "Refuzăm" is a decline word; the offer is declined.
    offer.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED


def test_a_reply_from_someone_else_or_without_a_decision_word_decides_nothing(offer):
    row = OutboundMail.objects.get(kind="offer")
    _reply(row, "mallory@elsewhere.example", "Confirm")
    _reply(row, "ana@newco.example", "Can you explain line 2?")
    offer.refresh_from_db()
    assert offer.status == Offer.Status.SENT


def test_decision_words():
    assert decision_word("Yes, we accept.") is True
    assert decision_word("No, we do not accept") is False  # a negated yes-word is a no
    assert decision_word("Yes, we decline") is None  # both: a person reads it
    assert decision_word("Je ne confirme pas") is False
    assert decision_word("отклоняю") is False
    assert decision_word("") is None
