"""Console and portal pages: who sees what, who may change what."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from aftercare.saas.models import Offer, State, Step
from aftercare.saas.tests import factories as f
from aftercare.tenancy.models import AgentRestriction

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(org):
    return f.lead(organisation=org)


def _items(**rows) -> dict:
    data = {
        "currency": "eur",
        "valid_days": "30",
        "notes": "Preț fix.",
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "50",
        "items-0-description": "Migrare",
        "items-0-quantity": "2",
        "items-0-unit": "zile",
        "items-0-unit_price": "800.00",
        "items-0-vat_rate": "19",
        "items-1-vat_rate": "19",  # an empty row as the browser sends it
    }
    data.update(rows)
    return data


def test_a_consultant_prepares_and_sends_an_offer_through_the_pages(lead, consultant, client_for):
    client = client_for(consultant)
    assert lead.company in client.get(reverse("saas:list")).content.decode()
    assert client.get(reverse("saas:detail", args=[lead.pk])).status_code == 200
    response = client.post(reverse("saas:offer-new", args=[lead.pk]))
    offer = lead.offers.get()
    assert response["Location"] == reverse("saas:offer-edit", args=[offer.pk])
    assert client.get(response["Location"]).status_code == 200
    # Bad input: shown again with the error, nothing lost or saved.
    bad = client.post(response["Location"], _items(**{"items-0-unit_price": "abc"}))
    assert bad.status_code == 400
    assert "Migrare" in bad.content.decode()
    assert not offer.items.exists()
    client.post(response["Location"], _items())
    assert offer.items.get().net == Decimal("1600.00")
    offer.refresh_from_db()
    assert offer.currency == "EUR"
    preview = client.get(reverse("saas:offer-pdf", args=[offer.pk]))
    assert preview["Content-Type"] == "application/pdf"
    client.post(response["Location"], _items(then="send"))
    offer.refresh_from_db()
    lead.refresh_from_db()
    assert (offer.status, lead.state) == (Offer.Status.SENT, State.OFFER_SENT)
    download = client.get(reverse("saas:offer-pdf", args=[offer.pk]))
    assert download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content).startswith(b"%PDF")


def test_an_operator_sees_migrations_but_may_not_change_them(lead, operator, client_for):
    client = client_for(operator)
    assert client.get(reverse("saas:detail", args=[lead.pk])).status_code == 200
    assert client.post(reverse("saas:offer-new", args=[lead.pk])).status_code == 403
    assert not lead.offers.exists()


def test_a_customer_gets_403_in_the_console(lead, coordinator, client_for):
    assert client_for(coordinator).get(reverse("saas:list")).status_code == 403


def test_leads_without_an_organisation_are_for_unrestricted_staff_only(org, operator, client_for):
    unlinked = f.lead(company="Unlinked Prospect")
    url = reverse("saas:detail", args=[unlinked.pk])
    assert client_for(operator).get(url).status_code == 200
    AgentRestriction.objects.create(user=operator, organisation=org)
    client = client_for(operator)
    assert client.get(url).status_code == 404
    assert "Unlinked Prospect" not in client.get(reverse("saas:list")).content.decode()


def test_the_run_through_the_console_schedule_checklist_extras_statement(
    lead, consultant, coordinator, client_for, org
):
    f.confirmed(lead, consultant, coordinator)
    client = client_for(consultant)
    bad = client.post(
        reverse("saas:schedule", args=[lead.pk]), {"scheduled_for": "", "target_site": ""}
    )
    assert bad.status_code == 400
    client.post(
        reverse("saas:schedule", args=[lead.pk]),
        {
            "scheduled_for": f.next_saturday().isoformat(),
            "target_site": "alpha.saas.example",
            "weekend": "on",
        },
    )
    lead.refresh_from_db()
    assert lead.state == State.SCHEDULED and lead.weekend
    # Before the run starts: refused, nothing ticked.
    response = client.post(reverse("saas:tick", args=[lead.pk, Step.READ_ONLY]), follow=True)
    assert "before the run starts" in response.content.decode()
    assert not lead.ticks.exists()
    client.post(
        reverse("saas:schedule", args=[lead.pk]),
        {
            "scheduled_for": timezone.now().astimezone(org.zone).date().isoformat(),
            "start_time": "00:00",
            "target_site": "alpha.saas.example",
        },
    )
    lead.refresh_from_db()
    assert lead.starts_at.astimezone(org.zone).hour == 0
    # Out of order: refused with the reason, nothing ticked.
    response = client.post(reverse("saas:tick", args=[lead.pk, Step.DATA]), follow=True)
    assert "first" in response.content.decode()
    assert not lead.ticks.exists()
    for step in Step.values:
        client.post(reverse("saas:tick", args=[lead.pk, step]), {"note": "ok"})
    lead.refresh_from_db()
    assert lead.state == State.HANDED_OVER
    client.post(
        reverse("saas:extra-add", args=[lead.pk]),
        {
            "description": "Training",
            "quantity": "2",
            "unit": "h",
            "unit_price": "60",
            "vat_rate": "19",
        },
    )
    assert lead.extras.get().net == Decimal("120.00")
    # The statement waits for the customer's acceptance.
    client.post(reverse("saas:statement-issue", args=[lead.pk]))
    assert client.get(reverse("saas:statement-pdf", args=[lead.pk])).status_code == 302
    accept = client_for(coordinator).post(
        reverse("saas_portal:accept", args=[lead.pk]),
        {"name": "Maria Pop", "accepted_on": timezone.localdate().isoformat(), "comment": "Bine"},
    )
    assert accept.status_code == 302
    client.post(reverse("saas:statement-issue", args=[lead.pk]))
    lead.refresh_from_db()
    assert lead.state == State.INVOICED
    pdf = client.get(reverse("saas:statement-pdf", args=[lead.pk]))
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    portal_pdf = client_for(coordinator).get(reverse("saas_portal:statement-pdf", args=[lead.pk]))
    assert b"".join(portal_pdf.streaming_content).startswith(b"%PDF")


# -- the portal --------------------------------------------------------------------------


def test_the_coordinator_confirms_the_offer_in_the_portal(
    lead, consultant, coordinator, client_for
):
    offer = f.sent(lead, consultant)
    client = client_for(coordinator)
    assert lead.reference in client.get(reverse("saas_portal:list")).content.decode()
    page = client.get(reverse("saas_portal:detail", args=[lead.pk])).content.decode()
    assert offer.number in page and 'name="decision"' in page
    pdf = client.get(reverse("saas_portal:offer-pdf", args=[offer.pk]))
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    assert client.post(reverse("saas_portal:decide", args=[offer.pk]), {}).status_code == 400
    client.post(reverse("saas_portal:decide", args=[offer.pk]), {"decision": "confirm"})
    offer.refresh_from_db()
    assert (offer.status, offer.decided_by, offer.decided_via) == (
        Offer.Status.CONFIRMED,
        coordinator,
        Offer.Via.PORTAL,
    )


def test_a_customer_user_sees_the_offer_but_cannot_decide(lead, consultant, owner, client_for):
    offer = f.sent(lead, consultant)
    client = client_for(owner)
    page = client.get(reverse("saas_portal:detail", args=[lead.pk])).content.decode()
    assert offer.number in page and 'name="decision"' not in page
    response = client.post(
        reverse("saas_portal:decide", args=[offer.pk]), {"decision": "confirm"}, follow=True
    )
    assert "Only a coordinator" in response.content.decode()
    offer.refresh_from_db()
    assert offer.status == Offer.Status.SENT


def test_another_organisations_coordinator_gets_404(lead, consultant, outsider, client_for):
    offer = f.sent(lead, consultant)
    client = client_for(outsider)
    assert client.get(reverse("saas_portal:detail", args=[lead.pk])).status_code == 404
    assert client.get(reverse("saas_portal:offer-pdf", args=[offer.pk])).status_code == 404
    assert (
        client.post(
            reverse("saas_portal:decide", args=[offer.pk]), {"decision": "confirm"}
        ).status_code
        == 404
    )
    assert lead.reference not in client.get(reverse("saas_portal:list")).content.decode()
    offer.refresh_from_db()
    assert offer.status == Offer.Status.SENT


def test_a_lead_without_an_offer_is_not_in_the_portal(lead, coordinator, client_for):
    assert (
        client_for(coordinator).get(reverse("saas_portal:detail", args=[lead.pk])).status_code
        == 404
    )


def test_acceptance_in_the_portal_waits_for_the_checklist(
    lead, consultant, coordinator, client_for
):
    f.scheduled(lead, consultant, coordinator)
    client = client_for(coordinator)
    data = {"name": "Maria", "accepted_on": timezone.localdate().isoformat()}
    response = client.post(reverse("saas_portal:accept", args=[lead.pk]), data, follow=True)
    assert "not complete" in response.content.decode()
    lead.refresh_from_db()
    assert lead.state == State.SCHEDULED
