"""The request-for-a-caller form: organisation first, then its callers and systems only."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from aftercare.desk.models import Channel, Ticket
from aftercare.tenancy.models import AgentRestriction, System
from aftercare.tenancy.tests.factories import customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(org, other_org):
    """Callers in two organisations, with names, addresses and phones to search by."""
    return {
        "ana": customer(
            org,
            username="ana",
            first_name="Ana",
            last_name="Ionescu",
            email="ana.ionescu@alpha.example",
            phone="+40 21 555 0101",
        ),
        "stefan": customer(
            org,
            username="stefan",
            first_name="Ștefan",
            last_name="Pop",
            email="stefan@alpha.example",
            phone="0722-123-456",
        ),
        "olena": customer(
            other_org,
            username="olena",
            first_name="Олена",
            last_name="Ана-Дністрова",
            email="olena@beta.example",
            phone="+380 44 555 0101",
        ),
    }


@pytest.fixture
def systems(org, other_org):
    return (
        System.objects.create(organisation=org, name="Alpha ERP production"),
        System.objects.create(organisation=other_org, name="Beta ERP test"),
    )


def _search(client, **params):
    response = client.get(reverse("console:callers"), params)
    return response, [
        r["name"] for r in response.json()["results"]
    ] if response.status_code == 200 else []


def test_choosing_the_organisation_lists_only_its_callers_and_systems(
    people, systems, client_for, operator, org
):
    page = client_for(operator).get(reverse("console:ticket-new"), {"organisation": org.pk})
    assert page.status_code == 200
    reporters = dict(page.context["form"].fields["reporter"].choices)
    assert people["ana"].pk in reporters and people["stefan"].pk in reporters
    assert people["olena"].pk not in reporters
    system_labels = [label for _pk, label in page.context["form"].fields["system"].choices]
    assert "Alpha ERP production" in " ".join(system_labels)
    assert "Beta ERP test" not in " ".join(system_labels)
    html = page.content.decode()
    # The htmx hook that reloads those two fields, and the fields it swaps in.
    select = re.search(r'<select name="organisation"[^>]*>', html).group(0)
    assert 'hx-get="/console/new/"' in select and 'hx-select="#caller-field"' in select
    assert 'id="caller-field"' in html and 'id="system-field"' in html
    assert "caller.js" in html


def test_a_picked_caller_comes_back_selected(people, client_for, operator, other_org):
    page = client_for(operator).get(
        reverse("console:ticket-new"), {"organisation": other_org.pk, "pick": people["olena"].pk}
    )
    assert page.context["form"]["reporter"].value() == str(people["olena"].pk)
    assert re.search(rf'<option value="{people["olena"].pk}" selected>', page.content.decode())


def test_the_staff_channels_leave_out_the_portal(client_for, operator):
    page = client_for(operator).get(reverse("console:ticket-new"))
    channels = [value for value, _label in page.context["form"].fields["channel"].choices]
    assert channels == [Channel.EMAIL, Channel.PHONE, Channel.MESSENGER]
    assert Channel.PORTAL not in channels


def test_a_portal_channel_is_refused_on_post(people, client_for, operator, org):
    response = client_for(operator).post(
        reverse("console:ticket-new"),
        {
            "organisation": org.pk,
            "reporter": people["ana"].pk,
            "channel": Channel.PORTAL,
            "category": "incident",
            "priority": 3,
            "subject": "Phone call",
            "description": "Called about invoices",
        },
    )
    assert response.status_code == 400
    assert not Ticket.objects.exists()


def test_a_system_of_another_organisation_is_refused(people, systems, client_for, operator, org):
    response = client_for(operator).post(
        reverse("console:ticket-new"),
        {
            "organisation": org.pk,
            "reporter": people["ana"].pk,
            "channel": Channel.PHONE,
            "system": systems[1].pk,
            "category": "incident",
            "priority": 3,
            "subject": "Phone call",
            "description": "Called about invoices",
        },
    )
    assert response.status_code == 400
    assert not Ticket.objects.exists()


def test_the_request_is_filed_for_the_caller_and_system(people, systems, client_for, operator, org):
    response = client_for(operator).post(
        reverse("console:ticket-new"),
        {
            "organisation": org.pk,
            "reporter": people["stefan"].pk,
            "channel": Channel.PHONE,
            "system": systems[0].pk,
            "category": "incident",
            "priority": 3,
            "subject": "Phone call",
            "description": "Called about invoices",
        },
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert (ticket.reporter, ticket.system, ticket.channel) == (
        people["stefan"],
        systems[0],
        Channel.PHONE,
    )


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("ana", ["Ana Ionescu"]),  # Latin "ana" is not Cyrillic "Ана"
        ("ана", ["Олена Ана-Дністрова"]),  # last name, another organisation, any case
        ("ionescu ana", ["Ana Ionescu"]),  # every word must match
        ("ștefan", ["Ștefan Pop"]),
        ("олена", ["Олена Ана-Дністрова"]),
        ("STEFAN@ALPHA", ["Ștefan Pop"]),  # e-mail, any case
        ("0722 123 456", ["Ștefan Pop"]),  # phone, spaced differently
        ("722123", ["Ștefan Pop"]),
        ("+40 21 555", ["Ana Ionescu"]),  # international form
        ("555 0101", ["Ana Ionescu", "Олена Ана-Дністрова"]),
        ("a", []),  # too short to ask
    ],
)
def test_the_type_ahead_finds_by_name_phone_or_email(people, client_for, operator, query, found):
    response, names = _search(client_for(operator), q=query)
    assert response.status_code == 200
    assert sorted(names) == sorted(found)


def test_the_type_ahead_narrows_to_the_organisation(people, client_for, operator, org):
    _response, names = _search(client_for(operator), q="ana", organisation=org.pk)
    assert names == ["Ana Ionescu"]
    result = client_for(operator).get(
        reverse("console:callers"), {"q": "ana", "organisation": org.pk}
    )
    assert result.json()["results"][0] == {
        "id": people["ana"].pk,
        "name": "Ana Ionescu",
        "email": "ana.ionescu@alpha.example",
        "phone": "+40 21 555 0101",
        "organisation": org.pk,
        "organisation_name": "Alpha Foods",
    }


def test_a_restricted_agent_finds_nobody_of_another_organisation(
    people, client_for, operator, org, other_org
):
    AgentRestriction.objects.create(user=operator, organisation=org)
    client = client_for(operator)
    _response, names = _search(client, q="olena")
    assert names == []
    _response, names = _search(client, q="olena", organisation=other_org.pk)
    assert names == []
    _response, names = _search(client, q="+380 44")
    assert names == []
    _response, names = _search(client, q="ana")
    assert names == ["Ana Ionescu"]  # their own customer still answers


def test_the_type_ahead_is_refused_to_customers_and_anonymous(
    people, client_for, coordinator, client
):
    assert client_for(coordinator).get(reverse("console:callers"), {"q": "ana"}).status_code == 403
    anonymous = client.get(reverse("console:callers"), {"q": "ana"})
    assert anonymous.status_code == 302 and "olena" not in anonymous.content.decode()


def test_an_agent_who_may_not_file_for_callers_gets_403(people, client_for, developer):
    from aftercare.accounts.roles import PermSet

    if PermSet(developer).has("desk.open_ticket_on_behalf"):
        pytest.skip("developers may file for callers in this role table")
    assert client_for(developer).get(reverse("console:callers"), {"q": "ana"}).status_code == 403


@pytest.mark.parametrize("garbled", ["1 OR 1=1", "99999999999999999999", "١"])
def test_a_garbled_organisation_gives_nothing(people, client_for, operator, garbled):
    response, names = _search(client_for(operator), q="ana", organisation=garbled)
    assert response.status_code == 200 and names == []
