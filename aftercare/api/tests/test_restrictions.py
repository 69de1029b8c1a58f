"""Organisation restrictions on the API: who a request may go to, and who a look-up shows."""

from __future__ import annotations

import pytest

from aftercare.accounts.roles import Role
from aftercare.api.tests.conftest import API, error_of
from aftercare.desk.models import Ticket
from aftercare.mail.models import OutboundMail
from aftercare.tenancy.models import AgentRestriction, Membership
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def beta_consultant(other_org):
    user = staff(Role.CONSULTANT, username="beta-consultant")
    AgentRestriction.objects.create(user=user, organisation=other_org)
    return user


@pytest.fixture
def alpha_consultant(org):
    user = staff(Role.CONSULTANT, username="alpha-consultant")
    AgentRestriction.objects.create(user=user, organisation=org)
    return user


def test_it_refuses_to_assign_a_request_to_an_agent_restricted_elsewhere(
    api_client, operator, ticket, beta_consultant
):
    response = api_client(operator).patch_json(
        f"{API}/tickets/{ticket.number}",
        {"version": ticket.version, "assignee": beta_consultant.pk},
    )
    assert response.status_code == 422, response.content
    body = error_of(response)
    assert "may not see requests of Alpha Foods" in body["message"]
    assert "assignee" in body["fields"]
    assert Ticket.objects.get(pk=ticket.pk).assignee is None
    assert not OutboundMail.objects.filter(recipient=beta_consultant).exists()


def test_it_looks_up_only_assignees_who_may_see_the_request(
    api_client, operator, ticket, consultant, alpha_consultant, beta_consultant
):
    client = api_client(operator)
    body = client.get(f"{API}/users", {"ticket": ticket.number, "limit": 100}).json()
    names = {u["username"] for u in body["items"]}
    assert {"consultant", "alpha-consultant", "operator"} <= names
    assert "beta-consultant" not in names
    assert "owner" not in names  # customers are never assignees
    staff_of_a = client.get(
        f"{API}/users", {"kind": "staff", "organisation": ticket.organisation_id}
    )
    names = {u["username"] for u in staff_of_a.json()["items"]}
    assert "alpha-consultant" in names and "beta-consultant" not in names


def test_a_restricted_agent_cannot_look_up_assignees_of_a_request_out_of_reach(
    api_client, restricted_operator, b_ticket, other_org
):
    client = api_client(restricted_operator)
    assert client.get(f"{API}/users", {"ticket": b_ticket.number}).status_code == 404
    staff_of_b = client.get(f"{API}/users", {"kind": "staff", "organisation": other_org.pk})
    assert staff_of_b.json()["items"] == []


@pytest.fixture(params=["operator", "restricted_operator", "restricted_manager"])
def desk_agent(request, org):
    if request.param == "restricted_manager":
        user = staff(Role.MANAGER, username="alpha-manager")
        AgentRestriction.objects.create(user=user, organisation=org)
        return user
    return request.getfixturevalue(request.param)


def test_it_never_files_for_nor_rehomes_another_customers_person(
    api_client, desk_agent, org, other_org, outsider
):
    outsider.first_name = "Olga"
    outsider.save()
    response = api_client(desk_agent).post_json(
        f"{API}/tickets",
        {
            "organisation": org.pk,
            "reporter": outsider.pk,
            "subject": "Call",
            "description": "Called about invoices",
            "category": "incident",
        },
    )
    assert response.status_code == 422
    body = error_of(response)
    assert body["message"] == "The caller is not a member of this organisation."
    assert "Olga" not in response.content.decode() and "Beta" not in response.content.decode()
    assert list(
        Membership.objects.filter(user=outsider).values_list("organisation", flat=True)
    ) == [other_org.pk]
    assert not Ticket.objects.filter(subject="Call").exists()


def test_the_people_look_up_shows_only_the_chosen_organisations_people(
    api_client, desk_agent, org, owner, outsider
):
    client = api_client(desk_agent)
    found = client.get(f"{API}/users", {"organisation": org.pk, "q": outsider.email}).json()
    assert found["items"] == []
    found = client.get(f"{API}/users", {"organisation": org.pk, "q": owner.email}).json()
    assert [u["username"] for u in found["items"]] == ["owner"]
    if desk_agent.username != "operator":  # restricted to A: B's people are never found
        assert client.get(f"{API}/users", {"q": outsider.email}).json()["items"] == []
        assert client.get(f"{API}/users/{outsider.pk}").status_code == 404
