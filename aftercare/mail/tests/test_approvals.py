"""Customer approval before sensitive actions: by link, portal or e-mail reply; blocks moves."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aftercare.desk import approvals, services, workflow
from aftercare.desk.models import Approval, Status
from aftercare.desk.tests.factories import ticket_for
from aftercare.mail.ingest import ingest
from aftercare.mail.models import InboundMessage, OutboundMail
from aftercare.mail.tests.factories import make_mail

pytestmark = pytest.mark.django_db
ACTION = "Correct the stock balances directly in the production database"


@pytest.fixture
def asked(owner, org, coordinator, consultant):
    coordinator.email = "coord@alpha.example"
    coordinator.save()
    ticket = ticket_for(owner, org)
    services.transition(ticket=ticket, actor=consultant, target=Status.SPRINT)
    approval = approvals.request(
        ticket=ticket, actor=consultant, action=ACTION, target_status=Status.IN_PROGRESS
    )
    return approval


def link_of(approval, decision="approve") -> str:
    mail = OutboundMail.objects.get(kind="approval", ticket=approval.ticket)
    url = urlsplit(re.search(r"https?://\S+\?d=" + decision, mail.body_text).group(0))
    return f"{url.path}?{url.query}"


def test_the_coordinator_is_mailed_and_the_move_is_blocked(asked, consultant, coordinator):
    mail = OutboundMail.objects.get(kind="approval")
    assert mail.recipient == coordinator
    assert ACTION in mail.body_text and "?d=approve" in mail.body_text
    with pytest.raises(workflow.TransitionError, match="approval"):
        services.transition(ticket=asked.ticket, actor=consultant, target=Status.IN_PROGRESS)
    assert asked.ticket.events.filter(action="desk.approval.requested").exists()


def test_opening_the_link_changes_nothing_posting_decides_once(asked, consultant, coordinator):
    url = link_of(asked)
    anonymous = Client()
    page = anonymous.get(url)
    assert page.status_code == 200 and ACTION in page.content.decode()
    asked.refresh_from_db()
    assert asked.state == Approval.State.PENDING  # link scanners do not approve
    done = anonymous.post(url.split("?")[0], {"decision": "approve", "note": "OK, go ahead"})
    assert done.status_code == 200
    asked.refresh_from_db()
    assert asked.state == Approval.State.APPROVED
    assert asked.decided_by == coordinator and asked.decided_via == Approval.Via.LINK
    event = asked.ticket.events.get(action="desk.approval.approved")
    assert event.actor == coordinator and "OK, go ahead" in event.note
    again = anonymous.post(url.split("?")[0], {"decision": "decline"})
    assert again.status_code == 409
    asked.refresh_from_db()
    assert asked.state == Approval.State.APPROVED
    services.transition(ticket=asked.ticket, actor=consultant, target=Status.IN_PROGRESS)
    # The agent who asked hears of the decision.
    assert OutboundMail.objects.filter(kind="approval_approved", recipient=consultant).exists()


def test_a_forged_or_tampered_link_is_refused(asked):
    url = link_of(asked).split("?")[0]
    token = url.rstrip("/").rsplit("/", 1)[1]
    tampered = reverse("approval", args=[token[:-3] + "abc"])
    assert Client().post(tampered, {"decision": "approve"}).status_code == 404
    assert Client().get(reverse("approval", args=["nonsense"])).status_code == 404
    asked.refresh_from_db()
    assert asked.state == Approval.State.PENDING


def test_an_expired_link_is_refused(asked):
    Approval.objects.filter(pk=asked.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = Client().post(link_of(asked).split("?")[0], {"decision": "approve"})
    assert response.status_code == 409
    asked.refresh_from_db()
    assert asked.state == Approval.State.PENDING and asked.is_expired


def test_decline_keeps_blocking_until_a_new_approval(asked, consultant, coordinator):
    approvals.decide(approval=asked, user=coordinator, approve=False, via=Approval.Via.PORTAL)
    with pytest.raises(workflow.TransitionError):
        services.transition(ticket=asked.ticket, actor=consultant, target=Status.IN_PROGRESS)
    again = approvals.request(
        ticket=asked.ticket, actor=consultant, action=ACTION, target_status=Status.IN_PROGRESS
    )
    approvals.decide(approval=again, user=coordinator, approve=True, via=Approval.Via.PORTAL)
    services.transition(ticket=asked.ticket, actor=consultant, target=Status.IN_PROGRESS)


def test_the_coordinator_decides_in_the_portal(asked, coordinator, client_for):
    c = client_for(coordinator)
    url = reverse("portal:detail", args=[asked.ticket.number])
    page = c.get(url)
    assert ACTION in page.content.decode() and 'value="approve"' in page.content.decode()
    c.post(url, {"action": "approve", "approval": asked.pk, "note": "fine"})
    asked.refresh_from_db()
    assert asked.state == Approval.State.APPROVED and asked.decided_via == "portal"


def test_a_plain_customer_cannot_decide(asked, owner, client_for):
    c = client_for(owner)
    url = reverse("portal:detail", args=[asked.ticket.number])
    assert 'value="approve"' not in c.get(url).content.decode()
    c.post(url, {"action": "approve", "approval": asked.pk})
    asked.refresh_from_db()
    assert asked.state == Approval.State.PENDING
    with pytest.raises(PermissionDenied):
        approvals.decide(approval=asked, user=owner, approve=True, via="portal")


def test_another_organisation_cannot_decide_through_its_portal(asked, outsider, client_for):
    url = reverse("portal:detail", args=[asked.ticket.number])
    response = client_for(outsider).post(url, {"action": "approve", "approval": asked.pk})
    assert response.status_code == 404
    asked.refresh_from_db()
    assert asked.state == Approval.State.PENDING


@pytest.mark.parametrize(
    "word,state", [("Approve", "approved"), ("decline.", "declined"), ("Погоджую", "approved")]
)
def test_replying_approve_or_decline_by_mail_decides(asked, coordinator, word, state):
    request = OutboundMail.objects.get(kind="approval")
    raw = make_mail(
        sender="coord@alpha.example",
        subject=f"Re: {request.subject}",
        body=f"{word}\n\nOn Monday Aftercare wrote:\n> asks for your approval",
        in_reply_to=request.message_id,
    )
    result = ingest(raw)
    assert result.outcome == InboundMessage.Outcome.APPROVAL
    asked.refresh_from_db()
    assert asked.state == state and asked.decided_via == "email"
    assert asked.decided_by == coordinator


def test_a_reply_from_someone_else_is_not_a_decision(asked, owner):
    owner.email = "ana@alpha.example"
    owner.save()
    request = OutboundMail.objects.get(kind="approval")
    raw = make_mail(
        subject=f"Re: {request.subject}", body="approve", in_reply_to=request.message_id
    )
    result = ingest(raw)
    assert result.outcome == InboundMessage.Outcome.REPLY  # added as the owner's message
    asked.refresh_from_db()
    assert asked.state == Approval.State.PENDING


def test_the_agent_asks_and_withdraws_from_the_console(
    owner, org, coordinator, operator, client_for
):
    coordinator.email = "coord@alpha.example"
    coordinator.save()
    ticket = ticket_for(owner, org)
    c = client_for(operator)
    url = reverse("console:ticket", args=[ticket.number])
    empty = c.post(url, {"action": "approval", "action_text": " ", "target_status": ""})
    assert empty.status_code == 400
    c.post(url, {"action": "approval", "action_text": ACTION, "target_status": "released"})
    approval = Approval.objects.get(ticket=ticket)
    assert approval.target_status == "released"
    assert ACTION in c.get(url).content.decode()
    c.post(url, {"action": "withdraw_approval", "approval": approval.pk})
    approval.refresh_from_db()
    assert approval.state == Approval.State.WITHDRAWN


def test_customers_cannot_ask_for_approvals(owner, org, coordinator):
    ticket = ticket_for(owner, org)
    with pytest.raises(PermissionDenied):
        approvals.request(ticket=ticket, actor=coordinator, action=ACTION)
