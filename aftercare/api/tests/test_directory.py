"""Who the caller is, and the organisations, systems and people in their reach."""

from __future__ import annotations

import pytest

from aftercare.accounts.roles import Role
from aftercare.api.tests.conftest import API, error_of
from aftercare.tenancy.models import Membership
from aftercare.tenancy.tests.factories import customer

pytestmark = pytest.mark.django_db


def test_it_tells_a_customer_who_they_are(api_client, owner):
    body = api_client(owner).get(f"{API}/me").json()
    assert body["username"] == "owner"
    assert body["is_agent"] is False
    assert body["permissions"] == []
    assert [m["organisation"]["code"] for m in body["memberships"]] == ["alpha"]
    assert body["memberships"][0]["role"] == "customer"


def test_it_tells_an_agent_their_roles_and_permissions(api_client, operator):
    body = api_client(operator).get(f"{API}/me").json()
    assert body["is_agent"] is True
    assert body["staff_roles"] == [Role.OPERATOR]
    assert "desk.assign_ticket" in body["permissions"]


def test_it_lists_a_customers_own_organisations_only(api_client, owner, org, other_org):
    body = api_client(owner).get(f"{API}/organisations").json()
    assert [o["code"] for o in body] == ["alpha"]


def test_it_lists_every_organisation_for_an_unrestricted_agent(
    api_client, operator, org, other_org
):
    body = api_client(operator).get(f"{API}/organisations").json()
    assert [o["code"] for o in body] == ["alpha", "beta"]


def test_it_lists_a_restricted_agents_organisations_only(
    api_client, restricted_operator, org, other_org
):
    client = api_client(restricted_operator)
    assert [o["code"] for o in client.get(f"{API}/organisations").json()] == ["alpha"]
    assert client.get(f"{API}/organisations/beta").status_code == 404
    assert client.get(f"{API}/organisations/alpha").json()["name"] == "Alpha Foods"


def test_it_lists_the_systems_of_an_organisation(api_client, owner, system, other_system):
    client = api_client(owner)
    assert [s["name"] for s in client.get(f"{API}/organisations/alpha/systems").json()] == [
        "Alpha ERP"
    ]
    response = client.get(f"{API}/organisations/beta/systems")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert "Beta WMS" not in response.content.decode()


# -- people ---------------------------------------------------------------------------


def test_it_keeps_the_people_list_for_staff(api_client, owner, outsider):
    for path in ("/users", f"/users/{owner.pk}", f"/users/{outsider.pk}"):
        response = api_client(owner).get(f"{API}{path}")
        assert response.status_code == 403, path
        assert error_of(response)["code"] == "permission_denied"


def test_it_lists_staff_and_customers_in_reach(
    api_client, operator, consultant, owner, outsider, org, other_org
):
    body = api_client(operator).get(f"{API}/users").json()
    names = [u["username"] for u in body["items"]]
    assert {"operator", "consultant", "owner", "outsider"} <= set(names)
    assert names == sorted(names)
    staff = api_client(operator).get(f"{API}/users", {"kind": "staff"}).json()["items"]
    assert {u["username"] for u in staff} == {"operator", "consultant"}
    beta = api_client(operator).get(f"{API}/users", {"organisation": other_org.pk}).json()
    assert [u["username"] for u in beta["items"]] == ["outsider"]


def test_it_keeps_a_restricted_agent_to_the_people_of_their_organisations(
    api_client, restricted_operator, consultant, owner, outsider, org, other_org
):
    # One person in both organisations: B's membership must not show.
    both = customer(org, username="both")
    Membership.objects.create(user=both, organisation=other_org, role=Role.CUSTOMER)
    client = api_client(restricted_operator)
    body = client.get(f"{API}/users", {"limit": 100})
    names = {u["username"] for u in body.json()["items"]}
    assert "outsider" not in names
    assert {"owner", "both", "consultant"} <= names
    assert client.get(f"{API}/users/{outsider.pk}").status_code == 404
    detail = client.get(f"{API}/users/{both.pk}").json()
    assert [m["organisation"]["code"] for m in detail["memberships"]] == ["alpha"]
    assert "Beta" not in client.get(f"{API}/users/{both.pk}").content.decode()


def test_it_reads_a_colleague_with_their_roles(api_client, operator, consultant):
    body = api_client(operator).get(f"{API}/users/{consultant.pk}").json()
    assert body["is_staff_member"] is True
    assert body["roles"] == [Role.CONSULTANT]


def test_it_searches_and_pages_people(api_client, operator, org):
    for i in range(5):
        customer(org, username=f"buyer{i}", first_name="Buyer")
    client = api_client(operator)
    first = client.get(f"{API}/users", {"q": "buyer", "limit": 2}).json()
    assert [u["username"] for u in first["items"]] == ["buyer0", "buyer1"]
    second = client.get(f"{API}/users", {"q": "buyer", "limit": 2, "after": first["next_cursor"]})
    assert [u["username"] for u in second.json()["items"]] == ["buyer2", "buyer3"]
