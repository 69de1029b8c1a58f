"""Extending an SLA deadline by agreement, from the request page, as each role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from aftercare.accounts.roles import Role
from aftercare.desk.tests.factories import ticket_for
from aftercare.sla.models import SlaClock, SlaExtension
from aftercare.tenancy.models import AgentRestriction, ContactPerson
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(owner, org):
    return ticket_for(owner, org)


@pytest.fixture
def contact(org):
    return ContactPerson.objects.create(organisation=org, name="Ana IT manager")


def _post(client, ticket, contact, **kw):
    clock = SlaClock.objects.filter(ticket=ticket, metric="resolution").first()
    local = timezone.localtime(clock.deadline, ticket.organisation.zone) + timedelta(days=3)
    data = {
        "metric": "resolution",
        "agreed_by": contact.pk,
        "new_deadline": local.strftime("%Y-%m-%dT%H:%M"),
        "reason": "Waiting for the customer's test data",
        **kw,
    }
    return client.post(reverse("console:ticket-sla-extend", args=[ticket.number]), data)


def test_the_request_page_offers_the_form_and_an_agent_extends(
    ticket, contact, consultant, client_for
):
    client = client_for(consultant)
    page = client.get(reverse("console:ticket", args=[ticket.number])).content.decode()
    assert 'id="sla-extend-form"' in page and "Ana IT manager" in page
    response = _post(client, ticket, contact)
    assert response.status_code == 302
    extension = SlaExtension.objects.get()
    assert extension.agreed_by == contact and extension.created_by == consultant
    clock = SlaClock.objects.get(ticket=ticket, metric="resolution")
    assert clock.deadline == extension.new_deadline


def test_bad_input_is_refused_with_the_reason_and_nothing_changes(
    ticket, contact, consultant, client_for
):
    response = _post(client_for(consultant), ticket, contact, reason="")
    assert response.status_code == 400
    past = _post(
        client_for(consultant),
        ticket,
        contact,
        new_deadline=(timezone.localtime() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
    )
    assert past.status_code == 400
    assert "must be" in past.content.decode()
    assert not SlaExtension.objects.exists()


def test_a_contact_of_another_organisation_cannot_be_named(
    ticket, consultant, client_for, other_org
):
    foreign = ContactPerson.objects.create(organisation=other_org, name="Boris")
    response = _post(client_for(consultant), ticket, foreign)
    assert response.status_code == 400
    assert not SlaExtension.objects.exists()


def test_customers_and_restricted_agents_cannot_extend(
    ticket, contact, client_for, coordinator, other_org
):
    assert _post(client_for(coordinator), ticket, contact).status_code == 403
    agent = staff(Role.MANAGER, username="restricted")
    AgentRestriction.objects.create(user=agent, organisation=other_org)
    assert _post(client_for(agent), ticket, contact).status_code == 404
    assert not SlaExtension.objects.exists()
