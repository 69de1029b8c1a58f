"""Used or expired links name nothing (finding 17b): the offer confirmation link and the
approval link show only a neutral message once spent."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from aftercare.desk import approvals, services
from aftercare.desk.models import Approval, Status
from aftercare.desk.tests.factories import ticket_for
from aftercare.mail.models import OutboundMail
from aftercare.saas.models import Offer
from aftercare.saas.tests import factories as f

pytestmark = pytest.mark.django_db
NEUTRAL = "This link has already been used or has expired."
ACTION = "Correct the stock balances directly in the production database"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# -- offers ----------------------------------------------------------------------------------


@pytest.fixture
def offer(consultant, org):
    lead = f.lead(email="ana@newco.example", organisation=org)
    return f.sent(lead, consultant)


def _offer_url() -> str:
    body = OutboundMail.objects.get(kind="offer").body_text
    return _path(re.search(r"https?://\S+/quote/offer/\S+/", body).group(0))


def _assert_offer_hidden(html: str, offer: Offer) -> None:
    assert NEUTRAL in html
    for secret in (
        offer.number,
        offer.migration.company,
        offer.migration.contact_name,
        offer.migration.organisation.name,
        "2,500",
        "2500",
        "2.500",
    ):
        assert secret not in html, secret


def test_an_open_offer_link_shows_the_offer(offer):
    html = Client().get(_offer_url()).content.decode()
    assert offer.number in html and NEUTRAL not in html


def test_a_used_offer_link_names_nothing(offer):
    url = _offer_url()
    client = Client()
    assert client.post(url, {"decision": "confirm", "note": ""}).status_code == 200
    response = Client().get(url)
    assert response.status_code == 410
    _assert_offer_hidden(response.content.decode(), offer)
    again = Client().post(url, {"decision": "decline", "note": ""})
    assert again.status_code == 409
    _assert_offer_hidden(again.content.decode(), offer)


def test_an_expired_offer_link_names_nothing(offer):
    Offer.objects.filter(pk=offer.pk).update(
        sent_at=timezone.now() - timedelta(days=offer.valid_days + 1)
    )
    response = Client().get(_offer_url())
    assert response.status_code == 410
    _assert_offer_hidden(response.content.decode(), offer)


def test_an_offer_answered_in_the_portal_makes_the_link_name_nothing(offer, coordinator):
    from aftercare.saas import services as saas_services

    saas_services.decide_offer(offer=offer, confirm=True, via=Offer.Via.PORTAL, user=coordinator)
    _assert_offer_hidden(Client().get(_offer_url()).content.decode(), offer)


# -- approvals -------------------------------------------------------------------------------


@pytest.fixture
def asked(owner, org, coordinator, consultant):
    coordinator.email = "coord@alpha.example"
    coordinator.save()
    ticket = ticket_for(owner, org)
    services.transition(ticket=ticket, actor=consultant, target=Status.SPRINT)
    return approvals.request(
        ticket=ticket, actor=consultant, action=ACTION, target_status=Status.IN_PROGRESS
    )


def _approval_url() -> str:
    body = OutboundMail.objects.get(kind="approval").body_text
    return _path(re.search(r"https?://\S+\?d=approve", body).group(0))


def _assert_approval_hidden(html: str, approval: Approval) -> None:
    assert NEUTRAL in html
    ticket = approval.ticket
    for secret in (ACTION, ticket.number, ticket.subject, ticket.organisation.name):
        assert secret not in html, secret


def test_an_open_approval_link_shows_the_question(asked):
    html = Client().get(_approval_url()).content.decode()
    assert ACTION in html and NEUTRAL not in html


def test_a_used_approval_link_names_nothing(asked):
    url = _approval_url()
    done = Client().post(url.split("?")[0], {"decision": "approve"})
    assert done.status_code == 200
    assert ACTION not in done.content.decode()  # the thanks names nothing either
    _assert_approval_hidden(Client().get(url).content.decode(), asked)
    again = Client().post(url.split("?")[0], {"decision": "decline"})
    assert again.status_code == 409
    _assert_approval_hidden(again.content.decode(), asked)


def test_an_expired_approval_link_names_nothing(asked):
    Approval.objects.filter(pk=asked.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    _assert_approval_hidden(Client().get(_approval_url()).content.decode(), asked)


def test_an_approval_answered_in_the_portal_makes_the_link_name_nothing(asked, coordinator):
    approvals.decide(approval=asked, user=coordinator, approve=False, via=Approval.Via.PORTAL)
    _assert_approval_hidden(Client().get(_approval_url()).content.decode(), asked)
