"""Tokens, limits, bad payloads, organisation boundaries, concurrency and the command."""

from __future__ import annotations

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import Client

from aftercare.alerts import services
from aftercare.alerts.models import AlertIncident, AlertIntegration, AlertPayload, AlertRoute
from aftercare.alerts.tests import payloads
from aftercare.alerts.tests.conftest import API
from aftercare.api import tokens as api_tokens
from aftercare.desk.models import Ticket
from aftercare.lifecycle.models import Environment
from aftercare.lifecycle.tests.factories import landscape
from aftercare.ops import maintenance

pytestmark = pytest.mark.django_db


# -- tokens ----------------------------------------------------------------------------------


def test_a_missing_token_is_refused(post, bound):
    response = post("generic", payloads.generic(), None)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert "Bearer" in response["WWW-Authenticate"]
    assert not AlertPayload.objects.exists() and not Ticket.objects.exists()


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwdw==", "Bearer ", "Bearer acal_not-a-real-token", "Token acal_x"],
)
def test_wrong_tokens_are_refused(bound, header):
    response = Client().post(
        f"{API}/generic",
        data=payloads.generic(),
        content_type="application/json",
        HTTP_AUTHORIZATION=header,
    )
    assert response.status_code == 401
    assert response.json()["message"]
    assert not Ticket.objects.exists()


def test_a_revoked_token_is_refused(post, bound):
    integration, token = bound
    services.revoke(integration=integration, actor=None)
    response = post("generic", payloads.generic(), token)
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]
    assert not Ticket.objects.exists()


def test_a_personal_api_token_or_a_session_is_not_an_alert_token(post, bound, manager, owner):
    _token, personal = api_tokens.issue(user=owner, name="mine")
    assert post("generic", payloads.generic(), personal).status_code == 401
    session = Client(enforce_csrf_checks=True)
    session.force_login(manager)
    response = post("generic", payloads.generic(), None, client=session)
    assert response.status_code == 401  # the cookie signs nobody in (and needs no CSRF)
    _integration, token = bound
    assert post("generic", payloads.generic(), token, client=session).status_code == 200


# -- limits and bad payloads -------------------------------------------------------------------


def test_an_oversized_payload_is_refused_with_413(post, bound, settings):
    settings.AFTERCARE_ALERTS_MAX_BYTES = 2048
    _integration, token = bound
    body = payloads.generic(details="x" * 3000)
    response = post("generic", body, token)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Ticket.objects.exists()


def test_the_rate_is_bounded_per_integration(post, bound, unbound, settings):
    settings.AFTERCARE_ALERTS_RATE_PER_MINUTE = 2
    _integration, token = bound
    assert [post("generic", payloads.generic(), token).status_code for _ in range(2)] == [200, 200]
    refused = post("generic", payloads.generic(), token)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Another integration has its own budget.
    _other, other_token = unbound
    body = payloads.generic(environment="Test")
    assert post("generic", body, other_token).status_code == 200


def test_malformed_json_is_refused_and_kept_for_inspection(post, bound):
    integration, token = bound
    response = post("alertmanager", '{"version": "4", "alerts": [', token)
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]
    payload = AlertPayload.objects.get()
    assert (payload.integration, payload.outcome, payload.status_code) == (
        integration,
        "rejected",
        400,
    )
    assert payload.body == '{"version": "4", "alerts": ['
    assert "not valid JSON" in payload.error


@pytest.mark.parametrize(
    ("fmt", "body", "words"),
    [
        ("alertmanager", {"version": "3", "alerts": []}, "version 4"),
        ("alertmanager", payloads.alertmanager({"status": "burning", "labels": {}}), "firing"),
        ("zabbix", {"EVENT.VALUE": "1", "TRIGGER.NAME": "x"}, "event_id"),
        ("zabbix", payloads.zabbix(**{"EVENT.SEVERITY": "Apocalyptic"}), "Unknown severity"),
        ("generic", payloads.generic(summary=""), "summary"),
        ("generic", payloads.generic(starts_at="yesterday"), "ISO 8601"),
        ("generic", payloads.generic(starts_at="2026-03-02T07:58:00"), "time zone"),
        ("generic", [], "empty"),
    ],
)
def test_payloads_that_cannot_be_read_are_refused_and_kept(post, bound, fmt, body, words):
    _integration, token = bound
    response = post(fmt, body, token)
    assert response.status_code == 422
    assert words in response.json()["message"]
    payload = AlertPayload.objects.get()
    assert payload.outcome == "rejected" and words in payload.error
    assert not Ticket.objects.exists()


def test_the_received_log_keeps_a_bounded_body(post, bound, settings):
    settings.AFTERCARE_ALERTS_KEEP_BYTES = 1024
    _integration, token = bound
    post("generic", payloads.generic(details="y" * 5000), token)
    payload = AlertPayload.objects.get()
    assert payload.truncated and len(payload.body) == 1024


def test_maintenance_mode_answers_503_so_the_sender_retries(post, bound):
    _integration, token = bound
    maintenance.switch(True, message="Upgrade", by="tests")
    try:
        response = post("generic", payloads.generic(), token)
    finally:
        maintenance.switch(False, by="tests")
    assert response.status_code == 503
    assert not Ticket.objects.exists()


# -- organisation boundaries --------------------------------------------------------------------


@pytest.fixture
def beta_land(other_org, outsider):
    land = landscape(other_org)
    Environment.objects.create(system=land["system"], kind="production", name="Warehouse")
    return land


def test_a_token_of_a_cannot_place_an_alert_into_bs_environment(post, unbound, beta_land):
    _integration, token = unbound
    warehouse = Environment.objects.get(name="Warehouse")
    for reference in (
        beta_land["production"].pk,
        str(warehouse.pk),
        "Warehouse",
        "beta ERP: Production",
    ):
        response = post("generic", payloads.generic(environment=reference), token)
        assert response.status_code == 422, reference
        assert "No environment" in response.json()["message"]
    assert not Ticket.objects.exists() and not AlertIncident.objects.exists()
    assert AlertPayload.objects.filter(outcome="rejected").count() == 4


def test_a_bound_token_refuses_another_environment(post, bound, beta_land):
    _integration, token = bound
    response = post("generic", payloads.generic(environment=beta_land["production"].pk), token)
    assert response.status_code == 422
    assert not Ticket.objects.exists()


def test_labels_naming_bs_environment_stay_in_a(post, unbound, beta_land, org):
    _integration, token = unbound
    body = payloads.alertmanager(payloads.am_alert(environment="Warehouse"))
    response = post("alertmanager", body, token)
    assert response.status_code == 200
    ticket = Ticket.objects.get()
    incident = AlertIncident.objects.get()
    assert ticket.organisation == org and ticket.system is None
    assert incident.environment is None
    assert not Ticket.objects.filter(organisation=beta_land["system"].organisation).exists()


def test_routes_map_labels_within_the_organisation_only(post, unbound, land, beta_land):
    integration, token = unbound
    AlertRoute.objects.create(
        integration=integration, label_key="cluster", label_value="k8s-a", environment=land["test"]
    )
    with pytest.raises(ValueError, match="organisation"):
        AlertRoute.objects.create(
            integration=integration,
            label_key="cluster",
            label_value="k8s-b",
            environment=beta_land["production"],
        )
    post("alertmanager", payloads.alertmanager(payloads.am_alert(cluster="k8s-a")), token)
    assert AlertIncident.objects.get().environment == land["test"]


def test_the_label_environment_matches_an_environment_name(post, unbound, land):
    _integration, token = unbound
    post("alertmanager", payloads.alertmanager(payloads.am_alert(environment="training")), token)
    incident = AlertIncident.objects.get()
    assert incident.environment == land["training"]
    assert incident.ticket.system == land["system"]


def test_an_organisation_without_contacts_gets_a_clear_refusal(post, db):
    from aftercare.tenancy.tests.factories import OrganisationFactory

    lonely = OrganisationFactory(code="lonely")
    land = landscape(lonely)
    _integration, token = services.issue(
        organisation=lonely, environment=land["production"], name="x", actor=None
    )
    response = post("generic", payloads.generic(), token)
    assert response.status_code == 422
    assert "no active customer contact" in response.json()["message"]
    assert AlertPayload.objects.get().outcome == "rejected"


# -- concurrency ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_identical_alerts_at_the_same_moment_open_one_request(land):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises every writer)")
    from aftercare.accounts.roles import sync_role_groups

    sync_role_groups()
    _integration, token = services.issue(
        organisation=land["production"].organisation,
        environment=land["production"],
        name="race",
        actor=None,
    )
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def fire() -> None:
        try:
            barrier.wait()
            response = Client().post(
                f"{API}/generic",
                data=payloads.generic(),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    assert Ticket.objects.count() == 1
    assert AlertIncident.objects.get().count == 8


# -- the command ------------------------------------------------------------------------------


def test_the_command_issues_a_token_printed_once(land, capsys, post):
    env = land["production"]
    call_command(
        "alerts_token", "--organisation", "alpha", "--environment", str(env.pk), "--name", "Prom"
    )
    out = capsys.readouterr().out
    token = out.strip().splitlines()[-1]
    assert token.startswith("acal_")
    integration = AlertIntegration.objects.get()
    assert (integration.name, integration.environment) == ("Prom", env)
    assert token not in str(AlertIntegration.objects.values().get())
    assert integration.token_prefix == token[:10]
    assert post("generic", payloads.generic(), token).status_code == 200


def test_the_command_refuses_unknown_organisations_and_foreign_environments(land, beta_land):
    with pytest.raises(CommandError, match="No organisation"):
        call_command("alerts_token", "--organisation", "nobody")
    with pytest.raises(CommandError, match="No environment"):
        call_command(
            "alerts_token",
            "--organisation",
            "alpha",
            "--environment",
            str(beta_land["production"].pk),
        )
    assert not AlertIntegration.objects.exists()


def test_the_command_is_refused_in_maintenance_mode(land):
    maintenance.switch(True, message="Upgrade", by="tests")
    try:
        with pytest.raises(CommandError):
            call_command("alerts_token", "--organisation", "alpha")
    finally:
        maintenance.switch(False, by="tests")
    assert not AlertIntegration.objects.exists()
