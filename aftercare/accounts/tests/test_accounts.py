"""Signing in, throttling, language, profile, and the settings' production guard."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-123"  # noqa: S105 - the factories' password
LOCKED = "Too many failed sign-in attempts"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _english_afterwards():
    """The preferences middleware activates the user's language for the thread."""
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


def _login(client: Client, username: str, password: str = PASSWORD):
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def _signed_in_as(client: Client):
    """The user the client's session belongs to, or None."""
    from aftercare.accounts.models import User

    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


# -- signing in -------------------------------------------------------------------------


def test_it_signs_in_by_user_name(client, owner):
    response = _login(client, "owner")
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert _signed_in_as(client) == owner


def test_it_signs_in_by_e_mail_in_any_case(client, owner):
    response = _login(client, "OWNER@example.test")
    assert response.status_code == 302
    assert _signed_in_as(client) == owner


def test_it_refuses_a_wrong_password(client, owner):
    response = _login(client, "owner", "wrong")
    assert response.status_code == 200
    assert "enter a correct" in response.content.decode()
    assert _signed_in_as(client) is None


def test_two_active_accounts_cannot_share_an_e_mail(owner, org):
    from django.db import IntegrityError, transaction

    from aftercare.tenancy.tests.factories import customer

    with pytest.raises(IntegrityError), transaction.atomic():
        customer(org, username="twin", email=owner.email.upper())


def test_a_deactivated_twin_does_not_block_signing_in_by_e_mail(client, owner, org):
    from aftercare.tenancy.tests.factories import customer

    customer(org, username="twin", email=owner.email, is_active=False)
    response = _login(client, owner.email)
    assert response.status_code == 302
    assert _signed_in_as(client) == owner


def test_it_refuses_a_deactivated_account(client, owner):
    owner.is_active = False
    owner.save()
    assert _login(client, "owner").status_code == 200


def test_it_sends_a_signed_in_user_on_from_the_sign_in_page(client_for, owner):
    response = client_for(owner).get(reverse("accounts:login"))
    assert response.status_code == 302


def test_it_returns_to_the_page_asked_for_but_never_off_site(client, owner):
    url = reverse("accounts:login")
    data = {"username": "owner", "password": PASSWORD}
    response = client.post(url, {**data, "next": "/portal/new/"})
    assert response["Location"] == "/portal/new/"
    response = Client().post(url, {**data, "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


# -- throttling -------------------------------------------------------------------------


def _fail(times: int, username: str) -> None:
    for _ in range(times):
        response = _login(Client(), username, "wrong-password")
        assert response.status_code == 200
        assert LOCKED not in response.content.decode()


def test_it_locks_an_account_after_too_many_failures(settings, owner):
    settings.AFTERCARE_LOGIN_MAX_FAILURES = 3
    _fail(3, "owner")
    client = Client()
    response = _login(client, "owner")
    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert f"wait {settings.AFTERCARE_LOGIN_LOCKOUT_SECONDS // 60} minutes" in (
        response.content.decode()
    )
    assert _signed_in_as(client) is None


def test_it_allows_one_failure_less_than_the_limit(settings, owner):
    settings.AFTERCARE_LOGIN_MAX_FAILURES = 3
    _fail(2, "owner")
    assert _login(Client(), "owner").status_code == 302


def test_it_counts_failures_afresh_after_a_success(settings, owner):
    settings.AFTERCARE_LOGIN_MAX_FAILURES = 3
    _fail(2, "owner")
    assert _login(Client(), "owner").status_code == 302
    _fail(2, "owner")
    assert _login(Client(), "owner").status_code == 302


def test_it_locks_the_account_whatever_the_case_typed(settings, owner):
    settings.AFTERCARE_LOGIN_MAX_FAILURES = 3
    _fail(3, "Owner")
    assert LOCKED in _login(Client(), "OWNER").content.decode()


def test_it_leaves_other_accounts_alone(settings, owner, teammate):
    settings.AFTERCARE_LOGIN_MAX_FAILURES = 3
    _fail(3, "owner")
    assert LOCKED in _login(Client(), "owner").content.decode()
    client = Client()
    assert _login(client, "teammate").status_code == 302
    assert _signed_in_as(client) == teammate


def test_it_locks_the_account_also_for_its_e_mail_address(settings, owner):
    settings.AFTERCARE_LOGIN_MAX_FAILURES = 3
    _fail(3, "owner")
    response = _login(Client(), "owner@example.test")
    assert LOCKED in response.content.decode()


# -- language and profile ---------------------------------------------------------------


def test_it_remembers_the_chosen_language_and_speaks_it(client_for, owner, ticket):
    client = client_for(owner)
    response = client.post(reverse("accounts:language"), {"language": "ro", "next": "/portal/"})
    assert response.status_code == 302 and response["Location"] == "/portal/"
    owner.refresh_from_db()
    assert owner.language == "ro"
    # A new session without the cookie: the language comes from the profile.
    fresh = client_for(owner)
    for name in ("portal:list", "accounts:profile"):
        body = fresh.get(reverse(name)).content.decode()
        assert '<html lang="ro">' in body, name
    body = fresh.get(reverse("portal:detail", args=[ticket.number])).content.decode()
    assert '<html lang="ro">' in body


def test_it_switches_language_for_an_anonymous_visitor_by_cookie(client):
    client.post(reverse("accounts:language"), {"language": "uk"})
    assert client.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "uk"
    assert '<html lang="uk">' in client.get(reverse("accounts:login")).content.decode()


def test_it_refuses_an_unknown_language(client_for, owner):
    owner.language = "fr"
    owner.save()
    client_for(owner).post(reverse("accounts:language"), {"language": "xx"})
    owner.refresh_from_db()
    assert owner.language == "en"


def test_it_never_sends_the_language_switcher_off_site(client):
    response = client.post(
        reverse("accounts:language"), {"language": "fr", "next": "https://evil.example/x"}
    )
    assert response["Location"] == "/"


def test_it_only_switches_language_by_post(client):
    assert client.get(reverse("accounts:language")).status_code == 405


def _profile(user, **changes):
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "phone": "",
        "language": user.language,
        "time_zone": user.time_zone,
        **changes,
    }


def test_it_saves_the_profile(client_for, owner):
    response = client_for(owner).post(
        reverse("accounts:profile"), _profile(owner, phone="+40 21 000", time_zone="Europe/Kyiv")
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert (owner.phone, owner.time_zone) == ("+40 21 000", "Europe/Kyiv")


def test_it_refuses_an_unknown_time_zone(client_for, owner):
    before = owner.time_zone
    response = client_for(owner).post(
        reverse("accounts:profile"), _profile(owner, time_zone="Mars/Olympus_Mons")
    )
    assert response.status_code == 200
    assert "Mars/Olympus_Mons is not a known time zone." in response.content.decode()
    owner.refresh_from_db()
    assert owner.time_zone == before


def test_it_shows_times_in_the_users_time_zone(client_for, owner, ticket):
    from aftercare.desk.models import Ticket

    # 20:00 UTC is still the 10th in Bucharest but already the 11th in Tokyo.
    Ticket.objects.filter(pk=ticket.pk).update(created_at=datetime(2024, 3, 10, 20, tzinfo=UTC))
    url = reverse("portal:detail", args=[ticket.number])
    assert "03/10/2024" in client_for(owner).get(url).content.decode()
    owner.time_zone = "Asia/Tokyo"
    owner.save()
    body = client_for(owner).get(url).content.decode()
    assert "03/11/2024" in body and "03/10/2024" not in body


def test_it_keeps_the_profile_for_signed_in_users(client):
    response = client.get(reverse("accounts:profile"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


# -- CSRF -------------------------------------------------------------------------------


def test_it_enforces_csrf_on_sign_in(owner):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("accounts:login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == 403


def test_it_accepts_a_sign_in_with_the_csrf_token(owner):
    strict = Client(enforce_csrf_checks=True)
    strict.get(reverse("accounts:login"))
    token = strict.cookies[django_settings.CSRF_COOKIE_NAME].value
    response = strict.post(
        reverse("accounts:login"),
        {"username": "owner", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302


def test_it_enforces_csrf_on_a_customers_post(owner, ticket):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    response = strict.post(
        reverse("portal:detail", args=[ticket.number]), {"action": "reply", "body": "Forged"}
    )
    assert response.status_code == 403
    assert not ticket.messages.filter(body="Forged").exists()


# -- settings guard ---------------------------------------------------------------------


def _import_settings(tmp_path, **env) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "SECRET_KEY_FILE", "DEBUG", "AFTERCARE_MODE"}
        and not k.startswith("PYTEST")
    }
    clean.update({"AFTERCARE_DATA_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "-c", "import aftercare.settings"],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_refuses_production_with_the_default_secret(tmp_path):
    result = _import_settings(tmp_path, AFTERCARE_MODE="production")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "Refusing to start in production mode with the default or a short SECRET_KEY" in (
        result.stderr
    )


def test_it_refuses_production_with_a_short_secret(tmp_path):
    result = _import_settings(tmp_path, AFTERCARE_MODE="production", SECRET_KEY="short-one")
    assert result.returncode != 0
    assert "Refusing to start in production mode" in result.stderr


def test_it_refuses_production_with_debug_on(tmp_path):
    result = _import_settings(tmp_path, AFTERCARE_MODE="production", SECRET_KEY="k" * 50, DEBUG="1")
    assert result.returncode != 0
    assert "DEBUG must be off in production mode." in result.stderr


def test_it_starts_in_production_with_a_long_secret(tmp_path):
    result = _import_settings(
        tmp_path, AFTERCARE_MODE="production", SECRET_KEY="a-long-random-secret-" + "x" * 40
    )
    assert result.returncode == 0, result.stderr


def test_it_reads_the_secret_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s" * 64 + "\n")
    result = _import_settings(tmp_path, AFTERCARE_MODE="production", SECRET_KEY_FILE=str(secret))
    assert result.returncode == 0, result.stderr


def test_it_starts_in_development_with_the_default_secret(tmp_path):
    assert _import_settings(tmp_path).returncode == 0


def test_it_creates_a_data_directory_that_does_not_exist_yet(tmp_path):
    fresh = tmp_path / "new" / "data"
    result = _import_settings(tmp_path, AFTERCARE_DATA_DIR=str(fresh))
    assert result.returncode == 0, result.stderr
    assert fresh.is_dir()
