"""Two-factor authentication: enrolment, the code step of signing in, replay and
throttling, recovery codes, enforcement by role, admin reset."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from aftercare.accounts import twofactor
from aftercare.accounts.models import SecurityEvent, TwoFactorDevice
from aftercare.accounts.roles import Role
from aftercare.api import tokens as api_tokens
from aftercare.tenancy.tests.factories import UserFactory, staff

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"


def _code(device, offset: int = 0) -> str:
    return pyotp.TOTP(device.secret).at(time.time() + offset * 30)


def _enrolled(user) -> tuple[TwoFactorDevice, list[str]]:
    device = twofactor.start_enrolment(user)
    codes = twofactor.confirm_enrolment(device, _code(device))
    assert codes
    # The next check must not reuse the confirmation's step.
    TwoFactorDevice.objects.filter(pk=device.pk).update(last_used_step=0)
    device.refresh_from_db()
    return device, codes


def _password_step(client: Client, user, nxt: str = ""):
    data = {"username": user.username, "password": PASSWORD}
    url = reverse("accounts:login") + (f"?next={nxt}" if nxt else "")
    return client.post(url, data)


# -- enrolment ---------------------------------------------------------------------------


def test_it_enrols_with_a_qr_code_and_activates_only_after_a_right_code(operator, client_for):
    client = client_for(operator)
    url = reverse("accounts:2fa")
    assert client.post(url, {"action": "start"}).status_code == 302
    page = client.get(url).content.decode()
    assert 'src="data:image/svg+xml;base64,' in page
    device = TwoFactorDevice.objects.get(user=operator)
    assert twofactor.grouped_secret(device.secret) in page
    assert not device.is_active

    wrong = client.post(url, {"action": "confirm", "code": "000000"})
    assert "not valid" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.is_active

    right = client.post(url, {"action": "confirm", "code": _code(device)})
    body = right.content.decode()
    device.refresh_from_db()
    assert device.is_active
    shown = re.findall(r"<li>([a-z0-9]{5}-[a-z0-9]{5})</li>", body)
    assert len(shown) == 10
    # Stored only as hashes, and shown once.
    assert not any(code in str(device.recovery_hashes) for code in shown)
    assert len(device.recovery_hashes) == 10
    assert not re.findall(r"<li>[a-z0-9]{5}-[a-z0-9]{5}</li>", client.get(url).content.decode())
    assert SecurityEvent.objects.filter(action="accounts.2fa.enabled", subject=operator).exists()
    # The session that enrolled stays signed in.
    assert client.get(reverse("console:queue")).status_code == 200


# -- signing in ----------------------------------------------------------------------------


def test_it_asks_for_a_code_before_the_session_is_signed_in(operator):
    device, _codes = _enrolled(operator)
    client = Client()
    response = _password_step(client, operator, nxt="/console/board/")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:2fa-verify")
    assert SESSION_KEY not in client.session
    # Nothing is reachable half-way: pages, and the API with the session.
    for path in (reverse("console:queue"), reverse("accounts:profile"), "/"):
        r = client.get(path)
        assert r.status_code == 302 and r["Location"].startswith(reverse("accounts:login"))
    assert client.get("/api/v1/me").status_code == 401

    page = client.get(reverse("accounts:2fa-verify"))
    assert page.status_code == 200 and b'name="code"' in page.content
    done = client.post(reverse("accounts:2fa-verify"), {"code": _code(device)})
    assert done.status_code == 302 and done["Location"] == "/console/board/"
    assert client.get(reverse("console:queue")).status_code == 200
    assert client.get("/api/v1/me").status_code == 200


def test_it_refuses_a_code_used_once_already(operator):
    device, _codes = _enrolled(operator)
    code = _code(device)
    first = Client()
    _password_step(first, operator)
    assert first.post(reverse("accounts:2fa-verify"), {"code": code}).status_code == 302
    second = Client()
    _password_step(second, operator)
    again = second.post(reverse("accounts:2fa-verify"), {"code": code})
    assert again.status_code == 200
    assert "not valid" in again.content.decode()
    assert SESSION_KEY not in second.session
    # The code of the following step is still good.
    assert (
        second.post(reverse("accounts:2fa-verify"), {"code": _code(device, 1)}).status_code == 302
    )


def test_it_accepts_a_recovery_code_once(operator):
    _device, codes = _enrolled(operator)
    client = Client()
    _password_step(client, operator)
    ok = client.post(reverse("accounts:2fa-verify"), {"code": codes[3].upper()}, follow=True)
    assert ok.status_code == 200
    assert "9 are left" in ok.content.decode()
    other = Client()
    _password_step(other, operator)
    refused = other.post(reverse("accounts:2fa-verify"), {"code": codes[3]})
    assert refused.status_code == 200 and SESSION_KEY not in other.session


def test_it_throttles_wrong_codes(operator, settings):
    settings.AFTERCARE_LOGIN_MAX_FAILURES = 3
    device, _codes = _enrolled(operator)
    client = Client()
    _password_step(client, operator)
    for _ in range(3):
        client.post(reverse("accounts:2fa-verify"), {"code": "123456"})
    locked = client.post(reverse("accounts:2fa-verify"), {"code": _code(device)})
    assert locked.status_code == 200
    assert "Too many wrong codes" in locked.content.decode()
    assert SESSION_KEY not in client.session


def test_it_forgets_a_half_finished_sign_in_after_a_while(operator, settings):
    device, _codes = _enrolled(operator)
    client = Client()
    _password_step(client, operator)
    session = client.session
    session[twofactor.PENDING_KEY]["at"] -= settings.AFTERCARE_2FA_PENDING_SECONDS + 1
    session.save()
    response = client.post(reverse("accounts:2fa-verify"), {"code": _code(device)})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert SESSION_KEY not in client.session


def test_it_keeps_the_password_throttle(operator, settings):
    settings.AFTERCARE_LOGIN_MAX_FAILURES = 2
    client = Client()
    for _ in range(2):
        client.post(reverse("accounts:login"), {"username": "operator", "password": "nope"})
    response = _password_step(client, operator)
    assert response.status_code == 200
    assert "Too many failed sign-in attempts" in response.content.decode()


def test_it_sends_a_password_only_admin_sign_in_to_the_code_step():
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    _enrolled(admin)
    client = Client()
    # Django's admin form no longer signs anyone in (it sends to the throttled sign-in)...
    response = client.post(reverse("admin:login"), {"username": "root", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert SESSION_KEY not in client.session
    # ...and a session that skipped the code step anyway is sent to it.
    client.force_login(admin)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:2fa-verify")
    assert SESSION_KEY not in client.session
    assert client.get(reverse("admin:index")).status_code == 302


def test_it_leaves_api_tokens_alone(operator, settings):
    settings.AFTERCARE_2FA_REQUIRED_FOR = ["operator"]
    _token, secret = api_tokens.issue(user=operator, name="CI")
    response = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200


# -- enforcement -----------------------------------------------------------------------


def test_it_sends_a_role_that_requires_2fa_to_enrolment_until_enrolled(settings):
    settings.AFTERCARE_2FA_REQUIRED_FOR = ["admin", "manager"]
    admin = staff(Role.ADMIN, username="admin")
    operator = staff(Role.OPERATOR, username="op")
    client = Client()
    assert _password_step(client, admin).status_code == 302
    for path in (reverse("console:queue"), reverse("accounts:profile"), "/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == reverse("accounts:2fa"), path
    api = client.get("/api/v1/me")
    assert api.status_code == 403 and api.json()["code"] == "two_factor_required"
    htmx = client.get(reverse("console:queue"), headers={"HX-Request": "true"})
    assert htmx["HX-Redirect"] == reverse("accounts:2fa")
    page = client.get(reverse("accounts:2fa"))
    assert page.status_code == 200
    assert "Your role requires two-factor authentication" in page.content.decode()

    client.post(reverse("accounts:2fa"), {"action": "start"})
    device = TwoFactorDevice.objects.get(user=admin)
    client.post(reverse("accounts:2fa"), {"action": "confirm", "code": _code(device)})
    assert client.get(reverse("console:queue")).status_code == 200

    other = Client()
    _password_step(other, operator)
    assert other.get(reverse("console:queue")).status_code == 200


def test_it_switches_off_only_with_a_code_or_the_password(operator, client_for):
    device, _codes = _enrolled(operator)
    client = Client()
    _password_step(client, operator)
    client.post(reverse("accounts:2fa-verify"), {"code": _code(device)})
    url = reverse("accounts:2fa")
    bad = client.post(url, {"action": "disable", "password": "wrong", "code": ""})
    assert "Enter a valid code or your password" in bad.content.decode()
    assert TwoFactorDevice.objects.filter(user=operator).exists()
    assert client.post(url, {"action": "disable", "password": PASSWORD}).status_code == 302
    assert not TwoFactorDevice.objects.filter(user=operator).exists()
    assert SecurityEvent.objects.filter(action="accounts.2fa.disabled", subject=operator).exists()
    # Signing in is back to the password alone.
    fresh = Client()
    _password_step(fresh, operator)
    assert fresh.get(reverse("console:queue")).status_code == 200


def test_it_renews_recovery_codes_with_a_code(operator):
    device, old = _enrolled(operator)
    client = Client()
    _password_step(client, operator)
    client.post(reverse("accounts:2fa-verify"), {"code": _code(device)})
    response = client.post(
        reverse("accounts:2fa"), {"action": "regenerate", "code": _code(device, 1)}
    )
    new = re.findall(r"<li>([a-z0-9]{5}-[a-z0-9]{5})</li>", response.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    device.refresh_from_db()
    assert twofactor._use_recovery(device, new[0])
    assert not twofactor._use_recovery(device, old[0])


def test_an_administrator_resets_2fa_in_the_admin(operator):
    _enrolled(operator)
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reset_two_factor", "_selected_action": [operator.pk]},
    )
    assert response.status_code == 302
    assert not TwoFactorDevice.objects.filter(user=operator).exists()
    event = SecurityEvent.objects.get(action="accounts.2fa.reset")
    assert (event.subject, event.actor) == (operator, root)
