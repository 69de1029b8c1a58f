"""A token's user is served exactly as their browser would be: scope, language, errors."""

from __future__ import annotations

from unittest import mock

import pytest
from django.test import Client
from django_scopes import get_scope

from aftercare.api import directory
from aftercare.api.tests.conftest import API, error_of

pytestmark = pytest.mark.django_db


def _scope_during_request(client) -> object:
    """The django-scopes ``organisation`` value active while an operation runs."""
    seen = []
    real = directory.visible_organisations

    def spy(permset):
        seen.append(get_scope().get("organisation", "no scope"))
        return real(permset)

    with mock.patch.object(directory, "visible_organisations", spy):
        assert client.get(f"{API}/organisations").status_code == 200
    return seen[0]


@pytest.mark.parametrize("who", ["owner", "operator", "restricted_operator"])
def test_it_gives_a_token_the_scope_the_middleware_gives_a_session(
    request, who, api_client, client_for, org, other_org
):
    user = request.getfixturevalue(who)
    by_token = _scope_during_request(api_client(user))
    by_session = _scope_during_request(client_for(user))
    assert by_token == by_session
    expected = None if who == "operator" else [org.pk]
    assert by_token == expected


def test_it_answers_in_the_token_users_language(api_client, owner, ticket):
    owner.language = "ro"
    owner.save()
    response = api_client(owner).patch_json(
        f"{API}/tickets/{ticket.number}",
        {"version": ticket.version, "priority": 1, "priority_reason": "x"},
    )
    assert response.status_code == 403
    assert error_of(response)["message"] == "Nu aveți permisiunea să schimbați prioritatea."


def test_it_reports_a_crash_as_json_without_details(api_client, owner, ticket):
    with mock.patch("aftercare.api.tickets.ticket_for", side_effect=RuntimeError("secret")):
        response = api_client(owner).get(f"{API}/tickets/{ticket.number}")
    assert response.status_code == 500
    body = error_of(response)
    assert body["code"] == "server_error"
    assert "secret" not in response.content.decode()


def test_it_serves_the_schema_to_get_only(db):
    assert Client().post(f"{API}/openapi.json").status_code == 405


def test_it_turns_off_the_outside_validator_in_the_docs(db):
    from django.urls import reverse

    html = Client().get(reverse("api:docs")).content.decode()
    assert '"validatorUrl": null' in html
