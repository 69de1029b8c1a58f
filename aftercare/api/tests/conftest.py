"""Fixtures for the API tests: token clients for the three-user cast and organisation B."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from aftercare.api import tokens
from aftercare.desk.tests.factories import PNG, ticket_for
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import SystemFactory

API = "/api/v1"


class ApiClient(Client):
    """A test client that speaks JSON and carries a bearer token."""

    def __init__(self, secret: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        super().__init__(headers=headers, **kwargs)

    def _json(self, method: str, path: str, data=None, **kwargs):
        body = json.dumps(data) if data is not None else None
        return getattr(super(), method)(path, body, content_type="application/json", **kwargs)

    def post_json(self, path, data=None, **kwargs):
        return self._json("post", path, data, **kwargs)

    def patch_json(self, path, data=None, **kwargs):
        return self._json("patch", path, data, **kwargs)


@pytest.fixture
def api_client():
    """``api_client(user)``: a client authenticated by a fresh personal token of ``user``."""

    def make(user) -> ApiClient:
        _token, secret = tokens.issue(user=user, name="tests")
        return ApiClient(secret)

    return make


@pytest.fixture
def system(org):
    return SystemFactory(organisation=org, name="Alpha ERP")


@pytest.fixture
def other_system(other_org):
    return SystemFactory(organisation=other_org, name="Beta WMS")


@pytest.fixture
def b_ticket(outsider, other_org):
    """Organisation B's request, with a file: A's people must never reach it."""
    return ticket_for(
        outsider,
        other_org,
        subject="Beta scanners offline",
        attachments=[SimpleUploadedFile("beta-manifest.png", PNG, content_type="image/png")],
    )


@pytest.fixture
def restricted_operator(operator, org):
    AgentRestriction.objects.create(user=operator, organisation=org)
    return operator


def error_of(response) -> dict:
    """The error body, after checking it has the documented shape."""
    body = response.json()
    assert set(body) == {"code", "message", "fields"}, body
    assert isinstance(body["message"], str) and body["message"]
    return body
