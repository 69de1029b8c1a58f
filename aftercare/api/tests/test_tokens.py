"""Personal tokens: made and revoked on a page, stored as a hash, refused when dead."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aftercare.api import tokens
from aftercare.api.models import ApiToken
from aftercare.api.tests.conftest import API, ApiClient, error_of

pytestmark = pytest.mark.django_db

SECRET_RE = re.compile(r"aftc_[A-Za-z0-9_-]{43}")


def _create_on_page(client, name="ERP sync", expires="90"):
    return client.post(reverse("api:token-list"), {"name": name, "expires": expires})


def test_it_shows_a_new_token_once_and_stores_only_its_hash(owner, client_for):
    client = client_for(owner)
    response = _create_on_page(client)
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    secret = SECRET_RE.search(response.content.decode()).group()
    token = ApiToken.objects.get(user=owner)
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret[: len(token.prefix)] == token.prefix
    for value in (token.name, token.prefix, token.secret_hash):
        assert secret not in value
    # The list page shows the prefix, never the secret again.
    again = client.get(reverse("api:token-list")).content.decode()
    assert token.prefix in again
    assert secret not in again
    assert ApiClient(secret).get(f"{API}/me").json()["username"] == "owner"


def test_it_sets_the_expiry_the_user_chose(owner, client_for):
    _create_on_page(client_for(owner), expires="30")
    token = ApiToken.objects.get(user=owner)
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    _create_on_page(client_for(owner), name="forever", expires="")
    assert ApiToken.objects.get(name="forever").expires_at is None


def test_it_refuses_a_token_without_a_name(owner, client_for):
    response = _create_on_page(client_for(owner), name="")
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_it_links_the_token_page_from_the_profile(owner, client_for):
    body = client_for(owner).get(reverse("accounts:profile")).content.decode()
    assert reverse("api:token-list") in body


def test_it_sends_anonymous_visitors_from_the_token_page_to_sign_in():
    response = Client().get(reverse("api:token-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_it_revokes_a_token_and_then_refuses_it(owner, client_for):
    token, secret = tokens.issue(user=owner, name="script")
    assert ApiClient(secret).get(f"{API}/me").status_code == 200
    response = client_for(owner).post(reverse("api:token-revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    refused = ApiClient(secret).get(f"{API}/me")
    assert refused.status_code == 401
    assert error_of(refused)["code"] == "unauthenticated"
    assert "revoked" in refused.json()["message"]
    assert refused["WWW-Authenticate"].startswith("Bearer")


def test_it_keeps_other_peoples_tokens_from_being_revoked(owner, teammate, client_for):
    token, secret = tokens.issue(user=teammate, name="theirs")
    response = client_for(owner).post(reverse("api:token-revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert ApiClient(secret).get(f"{API}/me").status_code == 200


def test_it_revokes_only_by_post(owner, client_for):
    token, _secret = tokens.issue(user=owner, name="script")
    assert client_for(owner).get(reverse("api:token-revoke", args=[token.pk])).status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


def test_it_refuses_an_expired_token(owner):
    token, secret = tokens.issue(
        user=owner, name="short", expires_at=timezone.now() + timedelta(hours=1)
    )
    assert ApiClient(secret).get(f"{API}/me").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        response = ApiClient(secret).get(f"{API}/me")
    assert response.status_code == 401
    assert "expired" in error_of(response)["message"]
    assert token.state_at(timezone.now() + timedelta(hours=2)) == ApiToken.State.EXPIRED


def test_it_refuses_the_token_of_a_disabled_account(owner):
    _token, secret = tokens.issue(user=owner, name="script")
    owner.is_active = False
    owner.save()
    response = ApiClient(secret).get(f"{API}/me")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer aftc_" + "x" * 43,  # well-formed, unknown
        "Bearer not-a-token",
        "Token aftc_abc",
        "Basic b3duZXI6cHc=",
        "Bearer ",
    ],
)
def test_it_refuses_bad_credentials_with_401_json(owner, header):
    response = Client(headers={"Authorization": header}).get(f"{API}/me")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthenticated"


def test_it_does_not_fall_back_to_the_session_when_the_token_is_bad(owner, client_for):
    client = client_for(owner)
    assert client.get(f"{API}/me").status_code == 200
    response = client.get(f"{API}/me", headers={"Authorization": "Bearer aftc_dead"})
    assert response.status_code == 401


def test_it_refuses_anonymous_requests(db):
    response = Client().get(f"{API}/tickets")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthenticated"


def test_it_records_when_a_token_was_last_used_without_writing_every_time(owner, settings):
    settings.AFTERCARE_API_TOKEN_TOUCH_SECONDS = 60
    token, secret = tokens.issue(user=owner, name="script")
    assert token.last_used_at is None
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        ApiClient(secret).get(f"{API}/me")
    token.refresh_from_db()
    assert token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        ApiClient(secret).get(f"{API}/me")
    token.refresh_from_db()
    assert token.last_used_at == start  # within the minute: not written again
    later = start + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        ApiClient(secret).get(f"{API}/me")
    token.refresh_from_db()
    assert token.last_used_at == later


def test_it_keeps_a_revocation_time_when_revoked_twice(owner):
    token, _secret = tokens.issue(user=owner, name="script")
    first = tokens.revoke(token=token).revoked_at
    assert tokens.revoke(token=token).revoked_at == first


# -- the browser session ----------------------------------------------------------------


def test_it_accepts_the_browser_session_for_reading(owner, client_for):
    response = client_for(owner).get(f"{API}/me")
    assert response.status_code == 200
    assert response.json()["username"] == "owner"


def test_it_demands_the_csrf_token_for_unsafe_methods_in_the_browser(owner, org, ticket):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    url = f"{API}/tickets/{ticket.number}/comments"
    refused = client.post(url, {"body": "Hello"}, content_type="application/json")
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "csrf_failed"
    assert ticket.messages.count() == 1
    client.get(reverse("accounts:profile"))  # sets the CSRF cookie, as a page view does
    csrf = client.cookies["csrftoken"].value
    accepted = client.post(
        url, {"body": "Hello"}, content_type="application/json", headers={"X-CSRFToken": csrf}
    )
    assert accepted.status_code == 201, accepted.content
    assert ticket.messages.count() == 2


def test_it_needs_no_csrf_token_with_a_bearer_token(owner, ticket):
    _token, secret = tokens.issue(user=owner, name="script")
    client = ApiClient(secret, enforce_csrf_checks=True)
    response = client.post_json(f"{API}/tickets/{ticket.number}/comments", {"body": "Hi"})
    assert response.status_code == 201


def test_it_refuses_the_session_of_a_disabled_account(owner, client_for):
    client = client_for(owner)
    owner.is_active = False
    owner.save()
    assert client.get(f"{API}/me").status_code == 401


def test_it_lets_an_administrator_revoke_a_token_but_not_revive_it(admin_client, owner):
    token, secret = tokens.issue(user=owner, name="leaked")
    response = admin_client.post(
        reverse("admin:api_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert ApiClient(secret).get(f"{API}/me").status_code == 401
    page = admin_client.get(reverse("admin:api_apitoken_change", args=[token.pk]))
    assert page.status_code == 200
    assert 'name="revoked_at' not in page.content.decode()
