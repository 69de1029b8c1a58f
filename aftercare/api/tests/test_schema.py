"""The OpenAPI schema, the documentation page, and the API held to its own schema."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from aftercare.api import tokens
from aftercare.api.tests.conftest import API
from aftercare.desk import services
from aftercare.desk.models import Ticket
from aftercare.desk.tests.factories import PNG, ticket_for

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    ("get", "/api/v1/tickets"),
    ("post", "/api/v1/tickets"),
    ("get", "/api/v1/tickets/{number}"),
    ("patch", "/api/v1/tickets/{number}"),
    ("post", "/api/v1/tickets/{number}/transitions"),
    ("get", "/api/v1/tickets/{number}/sla"),
    ("get", "/api/v1/tickets/{number}/comments"),
    ("post", "/api/v1/tickets/{number}/comments"),
    ("get", "/api/v1/tickets/{number}/time"),
    ("post", "/api/v1/tickets/{number}/time"),
    ("get", "/api/v1/tickets/{number}/attachments"),
    ("post", "/api/v1/tickets/{number}/attachments"),
    ("get", "/api/v1/attachments/{pk}"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/organisations"),
    ("get", "/api/v1/organisations/{code}"),
    ("get", "/api/v1/organisations/{code}/systems"),
    ("get", "/api/v1/users"),
    ("get", "/api/v1/users/{user_id}"),
    ("get", "/api/v1/notifications"),
    ("post", "/api/v1/notifications/read"),
    ("get", "/api/v1/tickets/{number}/followers"),
    ("post", "/api/v1/tickets/{number}/followers"),
    ("delete", "/api/v1/tickets/{number}/followers/{user_id}"),
    ("post", "/api/v1/alerts/alertmanager"),
    ("post", "/api/v1/alerts/zabbix"),
    ("post", "/api/v1/alerts/generic"),
}


def _schema() -> dict:
    response = Client().get(f"{API}/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_it_publishes_an_openapi_schema_listing_every_endpoint():
    schema = _schema()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["version"] == "1"
    listed = {(m, p) for p, ops in schema["paths"].items() for m in ops}
    assert listed == ENDPOINTS
    ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert "list_tickets" in ids
    assert set(schema["components"]["securitySchemes"]) == {"TokenAuth", "SessionAuth"}
    assert schema["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"


def test_it_documents_the_error_shape_on_every_endpoint():
    for path, ops in _schema()["paths"].items():
        for method, op in ops.items():
            for code in ("401", "429"):
                ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorOut"), (method, path, code)


def test_it_serves_the_documentation_without_a_cdn():
    response = Client().get(reverse("api:docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("api:v1:openapi-json") in html
    external = re.findall(r"""(?:src|href)=["'](https?:)?//""", html)
    assert not external, "the docs page must not load anything from another host"
    assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset
        served = Client().get(asset)
        assert served.status_code == 200, asset
        b"".join(served.streaming_content)


# -- the API against its own schema (schemathesis) ----------------------------------------

# Small and derandomized: the same cases every run, a few seconds per caller.
EXAMPLES_PER_OPERATION = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@contextmanager
def _wsgi_in_test_transaction():
    """Let the WSGI app share the test's transaction, as Django's test client does: the
    request signals would otherwise close the connection the test is running in."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(org, owner, coordinator, consultant, operator, manager, other_org, outsider):
    """A small desk: requests in several states, a conversation, files, a system."""
    from aftercare.tenancy.tests.factories import SystemFactory

    system = SystemFactory(organisation=org, name="Alpha ERP")
    first = ticket_for(
        owner,
        org,
        subject="Invoices stuck",
        attachments=[SimpleUploadedFile("screen.png", PNG, content_type="image/png")],
    )
    services.reply(ticket=first, actor=consultant, body="Looking", internal=True)
    services.reply(ticket=first, actor=consultant, body="Please send the log")
    second = ticket_for(owner, org, subject="Labels misprinted")
    services.transition(ticket=second, actor=operator, target="sprint")
    ticket_for(outsider, other_org, subject="Beta only")
    return {
        # path parameters
        "number": first.number,
        "code": org.code,
        "pk": first.attachments.first().pk,
        "user_id": owner.pk,
        # ids in bodies
        "organisation": org.pk,
        "system": system.pk,
        "reporter": owner.pk,
        "assignee": consultant.pk,
    }


def _strategy(operation, known: dict):
    """Generated cases, and cases aimed at rows that exist (path and ids in the body),
    so the fuzzing reaches the services and not only the 404s."""
    names = {p.name for p in operation.path_parameters}
    fixed = {name: known[name] for name in names}
    return st.one_of(
        operation.as_strategy().map(lambda case: (case, False)),
        operation.as_strategy(path_parameters=fixed).map(lambda case: (case, True)),
    )


def _aim_at_known_rows(case, known: dict) -> None:
    if not isinstance(case.body, dict):
        return
    for name in ("organisation", "system", "reporter", "assignee"):
        if case.body.get(name) is not None:
            case.body[name] = known[name]
    if "version" in case.body and case.path_parameters.get("number"):
        ticket = Ticket.objects.filter(number=case.path_parameters["number"]).first()
        case.body["version"] = ticket.version if ticket else 1


@pytest.mark.parametrize("who", ["operator", "owner"])
def test_it_keeps_to_its_schema_and_never_fails_with_5xx(request, who, seeded, settings):
    settings.AFTERCARE_API_RATE_LIMIT = 100_000
    user = request.getfixturevalue(who)
    _token, secret = tokens.issue(user=user, name="schemathesis")
    headers = {"Authorization": f"Bearer {secret}"}
    with _wsgi_in_test_transaction() as app:
        schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)
        for result in schema.get_all_operations():
            operation = result.ok()

            @hypothesis_settings(
                max_examples=EXAMPLES_PER_OPERATION,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(data=_strategy(operation, seeded))
            def check(data):
                case, aimed = data
                if aimed:
                    _aim_at_known_rows(case, seeded)
                response = case.call(headers=headers, buffered=True)  # closes streamed files
                case.validate_response(response, checks=CHECKS, headers=headers)

            check()
