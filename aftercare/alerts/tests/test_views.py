"""The console's alerts pages as every role, with attempts to cross organisations."""

from __future__ import annotations

import pytest
from django.urls import reverse

from aftercare.accounts.roles import Role
from aftercare.alerts import services
from aftercare.alerts.models import AlertIntegration, AlertRoute
from aftercare.alerts.tests import payloads
from aftercare.lifecycle.tests.factories import landscape
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db

LIST = reverse("alerts:list")


@pytest.fixture
def world(land, bound, other_org, outsider, post):
    """A's integration with an incident and a rejected payload; B's the same."""
    integration, token = bound
    post("generic", payloads.generic(summary="Alpha ERP down"), token)
    post("generic", "{broken", token)
    beta = landscape(other_org)
    b_integration, b_token = services.issue(
        organisation=other_org, environment=beta["production"], name="Beta Zabbix", actor=None
    )
    post("generic", payloads.generic(summary="Beta warehouse down"), b_token)
    post("generic", "{beta-broken", b_token)
    return {"a": integration, "b": b_integration, "beta": beta}


@pytest.fixture
def administrator(db):
    return staff(Role.ADMIN, username="administrator")


def _restricted(user, org):
    AgentRestriction.objects.create(user=user, organisation=org)
    return user


@pytest.mark.parametrize("role", ["operator", "consultant", "manager", "administrator"])
def test_staff_see_every_customers_integrations_and_log(request, role, world, client_for):
    page = client_for(request.getfixturevalue(role)).get(LIST)
    assert page.status_code == 200
    html = page.content.decode()
    for text in (
        "Prometheus",
        "Beta Zabbix",
        "Alpha ERP down",
        "Beta warehouse down",
        "not valid JSON",
    ):
        assert text in html
    assert world["a"].token_hash not in html


@pytest.mark.parametrize("role", ["operator", "consultant", "manager", "administrator"])
def test_a_restricted_agent_sees_and_reaches_only_their_customers(
    request, role, world, org, client_for
):
    user = _restricted(request.getfixturevalue(role), org)
    client = client_for(user)
    html = client.get(LIST).content.decode()
    assert "Prometheus" in html and "Alpha ERP down" in html
    assert "Beta" not in html
    b = world["b"]
    b_payload = services.visible_payloads(services.PermSet(staff(Role.ADMIN))).get(
        integration=b, outcome="rejected"
    )
    assert client.get(reverse("alerts:integration", args=[b.pk])).status_code == 404
    assert client.get(reverse("alerts:payload", args=[b_payload.pk])).status_code == 404
    assert client.post(reverse("alerts:integration-revoke", args=[b.pk])).status_code == 404
    route = {"label_key": "k", "label_value": "v", "environment": world["beta"]["test"].pk}
    assert client.post(reverse("alerts:integration", args=[b.pk]), route).status_code == 404
    # Creating one for B: B is not among the choices.
    client.post(LIST, {"organisation": b.organisation_id, "name": "Injected"})
    assert not AlertIntegration.objects.filter(name="Injected").exists()
    b.refresh_from_db()
    assert b.is_active and not AlertRoute.objects.exists()


@pytest.mark.parametrize("role", ["owner", "coordinator", "outsider"])
def test_customers_see_nothing_of_it(request, role, world, client_for):
    client = client_for(request.getfixturevalue(role))
    a = world["a"]
    for url in (
        LIST,
        reverse("alerts:integration", args=[a.pk]),
        reverse("alerts:payload", args=[1]),
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Prometheus" not in response.content.decode()
    assert client.post(reverse("alerts:integration-revoke", args=[a.pk])).status_code == 403
    assert client.post(LIST, {"organisation": a.organisation_id, "name": "Mine"}).status_code == 403
    a.refresh_from_db()
    assert a.is_active and AlertIntegration.objects.count() == 2


def test_a_manager_creates_an_integration_and_sees_the_token_once(manager, land, client_for, post):
    client = client_for(manager)
    env = land["production"]
    response = client.post(
        LIST,
        {"organisation": env.organisation_id, "environment": env.pk, "name": "Alertmanager"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    token = html.split('id="alert-token">')[1].split("<")[0]
    assert token.startswith("acal_")
    integration = AlertIntegration.objects.get()
    assert (integration.created_by, integration.environment) == (manager, env)
    assert (
        token
        not in client.get(reverse("alerts:integration", args=[integration.pk])).content.decode()
    )
    assert token not in client.get(LIST).content.decode()
    assert post("generic", payloads.generic(), token).status_code == 200


def test_the_environment_must_belong_to_the_chosen_customer(manager, land, other_org, client_for):
    beta = landscape(other_org)
    response = client_for(manager).post(
        LIST,
        {
            "organisation": land["production"].organisation_id,
            "environment": beta["test"].pk,
            "name": "x",
        },
    )
    assert "another customer" in response.content.decode()
    assert not AlertIntegration.objects.exists()


@pytest.mark.parametrize("role", ["operator", "consultant"])
def test_operators_and_consultants_read_but_do_not_manage(request, role, world, client_for):
    client = client_for(request.getfixturevalue(role))
    a = world["a"]
    page = client.get(reverse("alerts:integration", args=[a.pk]))
    assert page.status_code == 200 and "Revoke" not in page.content.decode()
    assert client.post(reverse("alerts:integration-revoke", args=[a.pk])).status_code == 403
    assert client.post(LIST, {"organisation": a.organisation_id, "name": "x"}).status_code == 403
    a.refresh_from_db()
    assert a.is_active


def test_a_manager_revokes_and_routes(manager, world, client_for, post, land):
    client = client_for(manager)
    a = world["a"]
    route = {"label_key": "cluster", "label_value": "k8s", "environment": land["test"].pk}
    assert client.post(reverse("alerts:integration", args=[a.pk]), route).status_code == 302
    assert AlertRoute.objects.get().environment == land["test"]
    # A route to another customer's environment is not among the choices.
    bad = {**route, "label_value": "x", "environment": world["beta"]["test"].pk}
    client.post(reverse("alerts:integration", args=[a.pk]), bad)
    assert AlertRoute.objects.count() == 1
    assert client.post(reverse("alerts:integration-revoke", args=[a.pk])).status_code == 302
    a.refresh_from_db()
    assert not a.is_active and a.revoked_at is not None


def test_a_rejected_payload_is_shown_for_inspection(manager, world, client_for):
    payload = services.visible_payloads(services.PermSet(manager)).get(
        integration=world["a"], outcome="rejected"
    )
    html = client_for(manager).get(reverse("alerts:payload", args=[payload.pk])).content.decode()
    assert "{broken" in html and "not valid JSON" in html


def test_the_list_keeps_its_query_count(manager, world, client_for, django_assert_max_num_queries):
    client = client_for(manager)
    client.get(LIST)
    with django_assert_max_num_queries(25):
        client.get(LIST)


def test_the_request_page_shows_the_alert_notes_to_staff_only(
    bound, post, consultant, coordinator, client_for
):
    _integration, token = bound
    number = post("generic", payloads.generic(), token).json()["alerts"][0]["ticket"]
    staff_page = client_for(consultant).get(reverse("console:ticket", args=[number]))
    html = staff_page.content.decode()
    assert "opened from a monitoring alert" in html and "service = erp-web" in html
    portal = client_for(coordinator).get(reverse("portal:detail", args=[number]))
    assert portal.status_code == 200
    text = portal.content.decode()
    assert "The ERP login page answers 502" in text
    assert "monitoring alert" not in text and "service = erp-web" not in text
