"""Rate limits per token and per signed-in user."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from aftercare.api import tokens
from aftercare.api.tests.conftest import API, ApiClient, error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def limit(settings):
    settings.AFTERCARE_API_RATE_LIMIT = 3
    settings.AFTERCARE_API_RATE_WINDOW = 60
    return 3


def test_it_answers_429_with_retry_after_past_the_limit(owner, limit):
    _token, secret = tokens.issue(user=owner, name="busy")
    client = ApiClient(secret)
    start = timezone.now().replace(second=10, microsecond=0)
    with time_machine.travel(start, tick=False):
        for _i in range(limit):
            assert client.get(f"{API}/me").status_code == 200
        refused = client.get(f"{API}/me")
    assert refused.status_code == 429
    assert error_of(refused)["code"] == "rate_limited"
    assert refused["Retry-After"] == "50"
    later = start + timedelta(seconds=60)  # the next window
    with time_machine.travel(later, tick=False):
        assert client.get(f"{API}/me").status_code == 200


def test_it_counts_each_token_on_its_own(owner, limit):
    _t1, first = tokens.issue(user=owner, name="one")
    _t2, second = tokens.issue(user=owner, name="two")
    start = timezone.now().replace(second=5, microsecond=0)
    with time_machine.travel(start, tick=False):
        for _i in range(limit):
            ApiClient(first).get(f"{API}/me")
        assert ApiClient(first).get(f"{API}/me").status_code == 429
        assert ApiClient(second).get(f"{API}/me").status_code == 200


def test_it_limits_a_browser_session_per_user(owner, teammate, client_for, limit):
    start = timezone.now().replace(second=5, microsecond=0)
    with time_machine.travel(start, tick=False):
        for _i in range(limit):
            client_for(owner).get(f"{API}/me")
        assert client_for(owner).get(f"{API}/me").status_code == 429
        assert client_for(teammate).get(f"{API}/me").status_code == 200


def test_it_counts_refused_requests_too(owner, ticket, limit):
    _token, secret = tokens.issue(user=owner, name="sloppy")
    client = ApiClient(secret)
    start = timezone.now().replace(second=5, microsecond=0)
    with time_machine.travel(start, tick=False):
        for _i in range(limit):
            assert client.post_json(f"{API}/tickets", {}).status_code == 422
        assert client.get(f"{API}/me").status_code == 429
