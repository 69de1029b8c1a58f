"""Replies that decide offers and approvals read negation; unsure replies go to an agent
(finding 13). The approval cases live here too: both hooks share ``lib.replies``."""

from __future__ import annotations

import pytest

from aftercare.desk import approvals, services
from aftercare.desk.models import Approval, Status
from aftercare.desk.tests.factories import ticket_for
from aftercare.lib.replies import UNSURE_REASON
from aftercare.mail.ingest import ingest
from aftercare.mail.models import InboundMessage, OutboundMail
from aftercare.mail.tests.factories import make_mail
from aftercare.saas.models import MigrationEvent, Offer, State
from aftercare.saas.tests import factories as f

pytestmark = pytest.mark.django_db
Outcome = InboundMessage.Outcome
QUOTED = [
    "Je ne confirme pas",
    "We do not accept",
    "Не підтверджую, ціна зависока",
    "Не подтверждаем",
]
ACTION = "Correct the stock balances directly in the production database"


@pytest.fixture
def offer(consultant):
    lead = f.lead(email="ana@newco.example", language="ro")
    return f.sent(lead, consultant)


def _reply(kind: str, sender: str, body: str):
    mail = OutboundMail.objects.get(kind=kind)
    return ingest(
        make_mail(
            sender=sender,
            subject=f"Re: {mail.subject}",
            body=f"{body}\n\nOn Monday Aftercare wrote:\n> Please confirm or decline.",
            in_reply_to=mail.message_id,
            references=mail.message_id,
        )
    )


@pytest.mark.parametrize("body", [*QUOTED, "Nu confirmăm oferta", "Nous ne l'acceptons pas"])
def test_a_negative_reply_declines_the_offer(offer, body):
    result = _reply("offer", "Ana <ana@newco.example>", body)
    offer.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED, body
    assert offer.migration.state == State.DECLINED
    assert result.inbound.outcome == Outcome.APPROVAL


@pytest.mark.parametrize(
    "body",
    ["Can we confirm later?", "Yes, but not before Monday", "Oui, mais pas maintenant", "Можливо"],
)
def test_an_unsure_reply_to_an_offer_waits_for_an_agent(offer, body):
    result = _reply("offer", "ana@newco.example", body)
    offer.refresh_from_db()
    assert offer.status == Offer.Status.SENT
    assert offer.migration.state == State.OFFER_SENT
    row = result.inbound
    assert (row.outcome, row.reason) == (Outcome.TRIAGE, UNSURE_REASON)
    assert offer.number in row.detail
    event = MigrationEvent.objects.get(migration=offer.migration, action="saas.offer.reply_unclear")
    assert event.actor_label == "ana@newco.example"


def test_an_unsure_reply_from_a_stranger_is_not_held_as_a_decision(offer):
    result = _reply("offer", "mallory@elsewhere.example", "Maybe")
    assert result.inbound.reason != UNSURE_REASON
    assert not MigrationEvent.objects.filter(action="saas.offer.reply_unclear").exists()


@pytest.fixture
def asked(owner, org, coordinator, consultant):
    coordinator.email = "coord@alpha.example"
    coordinator.save()
    ticket = ticket_for(owner, org)
    services.transition(ticket=ticket, actor=consultant, target=Status.SPRINT)
    return approvals.request(
        ticket=ticket, actor=consultant, action=ACTION, target_status=Status.IN_PROGRESS
    )


@pytest.mark.parametrize(
    "body", [*QUOTED, "Nu aprob", "I do not approve", "Не погоджую", "Je n'approuve pas"]
)
def test_a_negative_reply_declines_the_approval(asked, coordinator, body):
    result = _reply("approval", "coord@alpha.example", body)
    asked.refresh_from_db()
    assert asked.state == Approval.State.DECLINED, body
    assert result.inbound.outcome == Outcome.APPROVAL


@pytest.mark.parametrize("body", ["Yes, approved", "Da, aprob", "Так, погоджую", "Согласовано"])
def test_a_clear_yes_still_approves(asked, body):
    _reply("approval", "coord@alpha.example", body)
    asked.refresh_from_db()
    assert asked.state == Approval.State.APPROVED


@pytest.mark.parametrize("body", ["Approve, but only after the backup?", "Da, dar nu azi"])
def test_an_unsure_reply_to_an_approval_goes_on_the_request_for_the_agent(asked, body):
    result = _reply("approval", "coord@alpha.example", body)
    asked.refresh_from_db()
    assert asked.state == Approval.State.PENDING
    row = result.inbound
    assert (row.outcome, row.reason) == (Outcome.REPLY, UNSURE_REASON)
    assert row.ticket == asked.ticket
    note = asked.ticket.events.get(action="desk.approval.unclear_reply")
    assert note.is_internal and ACTION in note.note
