"""The staff pages and the customers' page, for each role."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.urls import reverse

from aftercare.accounts.roles import Role
from aftercare.desk.models import Category
from aftercare.desk.tests.factories import ticket_for
from aftercare.lifecycle.models import (
    Deployment,
    Environment,
    Party,
    Release,
    Responsibility,
)
from aftercare.lifecycle.services import deploy
from aftercare.lifecycle.tests.factories import landscape
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import OrganisationFactory, staff

pytestmark = pytest.mark.django_db

STAFF = ["operator", "consultant", "developer", "manager", "administrator"]
DEPLOYERS = ["consultant", "developer", "manager", "administrator"]


@pytest.fixture
def administrator(db):
    return staff(Role.ADMIN, username="admin")


@pytest.fixture
def land(org, consultant):
    land = landscape(org)
    deploy(
        release=land["r113sp1"],
        environment=land["test"],
        actor=consultant,
        result=Deployment.Result.SUCCEEDED,
        deployed_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        notes="Smoke tests green",
    )
    Responsibility.objects.create(
        contract=land["contract"],
        area=Responsibility.Area.DATABASE,
        party=Party.PROVIDER,
        party_name="Cloudy Hosting SRL",
    )
    return land


@pytest.fixture
def beta_land(other_org):
    return landscape(other_org)


def _env_url(env) -> str:
    return reverse("lifecycle:environment", kwargs={"environment_id": env.pk})


def _post_deployment(client, env, release, **extra):
    data = {
        "release": release.pk,
        "deployed_at": "2026-03-03T10:00",
        "result": Deployment.Result.SUCCEEDED,
        "notes": "Deployed by the book",
        **extra,
    }
    return client.post(_env_url(env), data)


# -- overview ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF)
def test_every_agent_sees_the_version_matrix(request, role, land, beta_land, client_for):
    response = client_for(request.getfixturevalue(role)).get(reverse("lifecycle:overview"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Alpha Foods" in body and "Beta Logistics" in body
    assert "11.3 SP1" in body
    assert "behind 11.3 SP1" in body  # production still on 11.2


def test_the_overview_can_show_only_systems_behind(land, org, consultant, client_for):
    deploy(
        release=land["r113sp1"],
        environment=land["production"],
        actor=consultant,
        result=Deployment.Result.SUCCEEDED,
        deployed_at=datetime(2026, 3, 3, 9, 0, tzinfo=UTC),
    )
    Environment.objects.filter(pk=land["training"].pk).update(
        current_release=land["r113sp1"], version="11.3 SP1"
    )
    other = OrganisationFactory(name="Gamma Retail", code="gamma")
    landscape(other)
    body = client_for(consultant).get(reverse("lifecycle:overview"), {"behind": "1"}).content
    assert b"Gamma Retail" in body
    assert b"Alpha Foods" not in body


def test_the_overview_costs_the_same_queries_for_more_customers(
    land, consultant, client_for, django_assert_max_num_queries
):
    client = client_for(consultant)
    client.get(reverse("lifecycle:overview"))
    for i in range(4):
        landscape(OrganisationFactory(name=f"Extra {i}", code=f"extra{i}"))
    with django_assert_max_num_queries(12):
        response = client.get(reverse("lifecycle:overview"))
    assert response.content.decode().count("Extra ") >= 4


def test_a_restricted_agent_sees_only_their_customers(land, beta_land, operator, org, client_for):
    AgentRestriction.objects.create(user=operator, organisation=org)
    body = client_for(operator).get(reverse("lifecycle:overview")).content.decode()
    assert "Alpha Foods" in body
    assert "Beta Logistics" not in body
    assert beta_land["production"].url not in body


@pytest.mark.parametrize("role", ["owner", "coordinator"])
def test_customers_get_403_on_staff_pages(request, role, land, client_for):
    client = client_for(request.getfixturevalue(role))
    for url in (
        reverse("lifecycle:overview"),
        reverse("lifecycle:releases"),
        reverse("lifecycle:organisation", kwargs={"code": "alpha"}),
        _env_url(land["test"]),
    ):
        assert client.get(url).status_code == 403, url


# -- organisation and environment pages -------------------------------------------------


def test_the_organisation_page_shows_environments_and_responsibilities(land, operator, client_for):
    response = client_for(operator).get(reverse("lifecycle:organisation", kwargs={"code": "alpha"}))
    body = response.content.decode()
    assert response.status_code == 200
    assert land["production"].url in body
    assert "Cloudy Hosting SRL" in body
    assert "Source-code access" in body and "not agreed" in body


def test_an_operator_sees_the_history_but_no_deployment_form(land, operator, client_for):
    response = client_for(operator).get(_env_url(land["test"]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Smoke tests green" in body
    assert 'id="deployment-form"' not in body


def test_an_operator_may_not_post_a_deployment(land, operator, client_for):
    response = _post_deployment(client_for(operator), land["training"], land["r113"])
    assert response.status_code == 403
    assert not Deployment.objects.filter(environment=land["training"]).exists()


@pytest.mark.parametrize("role", DEPLOYERS)
def test_deployers_record_a_deployment_and_the_version_follows(request, role, land, client_for):
    client = client_for(request.getfixturevalue(role))
    assert 'id="deployment-form"' in client.get(_env_url(land["training"])).content.decode()
    response = _post_deployment(client, land["training"], land["r113"])
    assert response.status_code == 302
    env = Environment.objects.get(pk=land["training"].pk)
    assert env.version == "11.3"
    assert "Deployment of 11.3 recorded" in client.get(response["Location"]).content.decode()


def test_the_time_entered_is_the_customers_local_time(land, consultant, client_for):
    # Alpha is in Europe/Bucharest, UTC+2 in early March.
    _post_deployment(client_for(consultant), land["training"], land["r113"])
    deployment = Deployment.objects.get(environment=land["training"])
    assert deployment.deployed_at == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


def test_a_refused_deployment_shows_the_reason_and_keeps_the_input(land, consultant, client_for):
    response = _post_deployment(client_for(consultant), land["production"], land["r113"])
    body = response.content.decode()
    assert response.status_code == 400
    assert "has not yet succeeded on a test or training environment" in body
    assert "Deployed by the book" in body
    assert not Deployment.objects.filter(environment=land["production"]).exists()


def test_a_manager_records_an_approved_emergency_change(land, manager, client_for):
    response = _post_deployment(
        client_for(manager),
        land["production"],
        land["r113"],
        emergency="on",
        emergency_reason="Invoices cannot be posted",
    )
    assert response.status_code == 302
    deployment = Deployment.objects.get(environment=land["production"])
    assert (deployment.is_emergency, deployment.emergency_approved_by) == (True, manager)
    body = client_for(manager).get(_env_url(land["production"])).content.decode()
    assert "Invoices cannot be posted" in body


def test_a_consultants_emergency_change_is_refused_with_the_reason(land, consultant, client_for):
    response = _post_deployment(
        client_for(consultant),
        land["production"],
        land["r113"],
        emergency="on",
        emergency_reason="Invoices cannot be posted",
    )
    assert response.status_code == 400
    assert "support manager or an administrator" in response.content.decode()
    assert not Deployment.objects.filter(environment=land["production"]).exists()


def test_the_form_links_change_requests_and_notes_them_on_the_ticket(
    land, org, owner, consultant, client_for
):
    change = ticket_for(
        owner, org, subject="Driver phone on delivery note", category=Category.CHANGE
    )
    client = client_for(consultant)
    assert change.number in client.get(_env_url(land["training"])).content.decode()
    response = _post_deployment(client, land["training"], land["r113"], change_requests=[change.pk])
    assert response.status_code == 302
    assert change.events.filter(action="lifecycle.deployment.recorded").exists()
    assert change.number in client.get(_env_url(land["training"])).content.decode()


def test_another_customers_change_request_is_not_offered(
    land, beta_land, other_org, outsider, consultant, client_for
):
    foreign = ticket_for(outsider, other_org, category=Category.CHANGE)
    response = _post_deployment(
        client_for(consultant), land["training"], land["r113"], change_requests=[foreign.pk]
    )
    assert response.status_code == 400
    assert not Deployment.objects.filter(environment=land["training"]).exists()


def test_a_restricted_agent_gets_404_for_another_customers_environment(
    land, beta_land, consultant, org, client_for
):
    AgentRestriction.objects.create(user=consultant, organisation=org)
    client = client_for(consultant)
    assert client.get(_env_url(beta_land["test"])).status_code == 404
    assert _post_deployment(client, beta_land["test"], beta_land["r113"]).status_code == 404
    assert not Deployment.objects.filter(environment=beta_land["test"]).exists()


# -- releases ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "administrator"])
def test_managers_add_a_release(request, role, land, client_for):
    client = client_for(request.getfixturevalue(role))
    response = client.post(
        reverse("lifecycle:releases"),
        {
            "product": land["product"].pk,
            "version": "11.4",
            "service_pack": "",
            "released_on": "2026-06-01",
            "notes": "New VAT engine",
        },
    )
    assert response.status_code == 302
    assert Release.objects.filter(version="11.4", released_on=date(2026, 6, 1)).exists()
    body = client.get(reverse("lifecycle:releases")).content.decode()
    assert "New VAT engine" in body


def test_a_duplicate_release_is_shown_as_an_error(land, manager, client_for):
    response = client_for(manager).post(
        reverse("lifecycle:releases"),
        {
            "product": land["product"].pk,
            "version": "11.3",
            "service_pack": "SP1",
            "released_on": "2026-06-01",
            "notes": "again",
        },
    )
    assert response.status_code == 400
    assert Release.objects.filter(version="11.3", service_pack="SP1").count() == 1


@pytest.mark.parametrize("role", ["operator", "consultant", "developer"])
def test_other_agents_see_releases_but_may_not_add(request, role, land, client_for):
    client = client_for(request.getfixturevalue(role))
    body = client.get(reverse("lifecycle:releases")).content.decode()
    assert "11.3 SP1" in body and 'id="release-form"' not in body
    response = client.post(
        reverse("lifecycle:releases"),
        {"product": land["product"].pk, "version": "12.0", "released_on": "2026-06-01"},
    )
    assert response.status_code == 403
    assert not Release.objects.filter(version="12.0").exists()


def test_a_restricted_manager_may_not_change_the_catalogue(land, manager, org, client_for):
    AgentRestriction.objects.create(user=manager, organisation=org)
    response = client_for(manager).post(
        reverse("lifecycle:releases"),
        {"product": land["product"].pk, "version": "12.0", "released_on": "2026-06-01"},
    )
    assert response.status_code == 403


# -- the customers' page ----------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "coordinator"])
def test_customers_see_their_environments_versions_and_history(
    request, role, land, beta_land, client_for
):
    response = client_for(request.getfixturevalue(role)).get(
        reverse("lifecycle_portal:environments")
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert land["production"].url in body
    assert "behind 11.3 SP1" in body
    assert "Cloudy Hosting SRL" in body
    assert "11.3 SP1" in body and "Succeeded" in body
    assert "Smoke tests green" not in body  # staff notes stay in the console
    assert beta_land["production"].url not in body
    assert "Beta Logistics" not in body


def test_the_portal_page_is_empty_for_staff(land, consultant, client_for):
    body = client_for(consultant).get(reverse("lifecycle_portal:environments")).content.decode()
    assert land["production"].url not in body


def test_the_portal_links_to_the_page(owner, client_for):
    body = client_for(owner).get(reverse("portal:list")).content.decode()
    assert reverse("lifecycle_portal:environments") in body


def test_the_console_links_to_the_overview(operator, client_for):
    body = client_for(operator).get(reverse("console:queue")).content.decode()
    assert reverse("lifecycle:overview") in body


def test_a_production_change_goes_through_once_the_customer_approved(
    land, org, owner, coordinator, consultant, client_for
):
    from aftercare.desk import approvals
    from aftercare.desk.models import Approval

    change = ticket_for(owner, org, subject="Driver phone", category=Category.CHANGE)
    client = client_for(consultant)
    body = client.get(_env_url(land["production"])).content.decode()
    assert f"{change.number} Driver phone (no customer approval asked)" in body
    approval = approvals.request(ticket=change, actor=consultant, action="Deploy to production")
    assert "(Waiting for approval)" in client.get(_env_url(land["production"])).content.decode()
    refused = _post_deployment(
        client, land["production"], land["r113sp1"], change_requests=[change.pk]
    )
    assert refused.status_code == 400
    assert "has not answered the approval request yet" in refused.content.decode()
    approvals.decide(approval=approval, user=coordinator, approve=True, via=Approval.Via.PORTAL)
    response = _post_deployment(
        client, land["production"], land["r113sp1"], change_requests=[change.pk]
    )
    assert response.status_code == 302
    assert Environment.objects.get(pk=land["production"].pk).version == "11.3 SP1"


def test_the_admin_lists_and_edits_the_lifecycle_models(land, admin_client):
    for model in ("product", "release", "environment", "responsibility", "maintenancewindow"):
        assert admin_client.get(reverse(f"admin:lifecycle_{model}_changelist")).status_code == 200
        assert admin_client.get(reverse(f"admin:lifecycle_{model}_add")).status_code == 200
    url = reverse("admin:lifecycle_environment_change", args=[land["production"].pk])
    assert admin_client.get(url).status_code == 200
