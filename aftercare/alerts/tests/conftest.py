from __future__ import annotations

import json

import pytest
from django.test import Client

from aftercare.alerts import services
from aftercare.lifecycle.tests.factories import landscape

API = "/api/v1/alerts"


@pytest.fixture
def land(org, coordinator):
    return landscape(org)


@pytest.fixture
def bound(land):
    """An integration bound to A's production, and its token."""
    return services.issue(
        organisation=land["production"].organisation,
        environment=land["production"],
        name="Prometheus",
        actor=None,
    )


@pytest.fixture
def unbound(land):
    return services.issue(organisation=land["production"].organisation, name="Zabbix", actor=None)


@pytest.fixture
def post():
    def send(fmt: str, body, token: str | None, client: Client | None = None, **extra):
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        return (client or Client()).post(
            f"{API}/{fmt}", data=data, content_type="application/json", **headers, **extra
        )

    return send
