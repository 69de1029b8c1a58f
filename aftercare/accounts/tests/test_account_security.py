"""Account security: e-mail changes, unique addresses, the admin's sign-in, client
addresses behind a proxy, the shared counter store, password change and reset."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import time_machine
from django.apps import apps as django_apps
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from aftercare.accounts.models import SecurityEvent, User
from aftercare.accounts.network import client_address
from aftercare.tenancy.tests.factories import UserFactory, customer

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-123"  # noqa: S105 - the factories' password
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _english_afterwards():
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


def _link(message, pattern: str) -> str:
    found = re.search(pattern, message.body)
    assert found, message.body
    return found.group(0)


def _path(url: str) -> str:
    return url.removeprefix(django_settings.AFTERCARE_BASE_URL)


# -- 2: e-mail changes -----------------------------------------------------------------


def test_the_profile_form_no_longer_changes_the_e_mail(client_for, owner, teammate):
    victim = teammate.email
    response = client_for(owner).post(
        reverse("accounts:profile"),
        {
            "first_name": "Own",
            "last_name": "Er",
            "email": victim,
            "phone": "",
            "language": "en",
            "time_zone": "Europe/Bucharest",
            "optional_mail": "on",
        },
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.first_name == "Own"
    assert owner.email != victim


def test_an_e_mail_change_needs_the_password(client_for, owner):
    old = owner.email
    response = client_for(owner).post(
        reverse("accounts:email-change"), {"new_email": "new@example.test", "password": "wrong"}
    )
    assert response.status_code == 400
    assert mail.outbox == []
    owner.refresh_from_db()
    assert owner.email == old


def test_an_e_mail_change_takes_effect_only_from_the_link_and_only_once(client_for, owner):
    old = owner.email
    client = client_for(owner)
    response = client.post(
        reverse("accounts:email-change"), {"new_email": "New@Example.test", "password": PASSWORD}
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.email == old  # not yet
    [confirmation] = mail.outbox
    assert confirmation.to == ["New@example.test"]
    link = _path(_link(confirmation, r"http\S+/accounts/email/confirm/\S+/"))
    assert client.get(link).status_code == 200  # a page with a button; nothing changed yet
    owner.refresh_from_db()
    assert owner.email == old
    assert client.post(link).status_code == 302
    owner.refresh_from_db()
    assert owner.email == "New@example.test"
    notice = mail.outbox[-1]
    assert notice.to == [old] and "New@example.test" in notice.body
    assert SecurityEvent.objects.filter(action="accounts.email.changed", subject=owner).exists()
    # Single use: the same link again changes nothing (and says so).
    owner.email = "back@example.test"
    owner.save()
    client.post(link)
    owner.refresh_from_db()
    assert owner.email == "back@example.test"


def test_the_link_works_only_for_the_signed_in_same_user(client_for, owner, teammate):
    client_for(owner).post(
        reverse("accounts:email-change"), {"new_email": "new@example.test", "password": PASSWORD}
    )
    link = _path(_link(mail.outbox[0], r"http\S+/accounts/email/confirm/\S+/"))
    anonymous = Client().post(link)
    assert anonymous.status_code == 302 and reverse("accounts:login") in anonymous["Location"]
    assert client_for(teammate).get(link).status_code == 404
    assert client_for(teammate).post(link).status_code == 404
    owner.refresh_from_db()
    teammate.refresh_from_db()
    assert "new@example.test" not in {owner.email, teammate.email}


def test_the_link_dies_after_a_password_change_and_expires(client_for, owner, settings):

    client = client_for(owner)
    client.post(
        reverse("accounts:email-change"), {"new_email": "new@example.test", "password": PASSWORD}
    )
    link = _path(_link(mail.outbox[0], r"http\S+/accounts/email/confirm/\S+/"))
    owner.set_password("another-password-456")
    owner.save()
    client.force_login(owner)
    client.post(link)
    owner.refresh_from_db()
    assert owner.email != "new@example.test"

    client.post(
        reverse("accounts:email-change"),
        {"new_email": "new@example.test", "password": "another-password-456"},
    )
    link = _path(_link(mail.outbox[-1], r"http\S+/accounts/email/confirm/\S+/"))
    with time_machine.travel(time.time() + settings.AFTERCARE_EMAIL_CHANGE_SECONDS + 60):
        client.post(link)
    owner.refresh_from_db()
    assert owner.email != "new@example.test"


def test_an_address_in_use_is_refused_in_any_case(client_for, owner, teammate):
    response = client_for(owner).post(
        reverse("accounts:email-change"),
        {"new_email": teammate.email.upper(), "password": PASSWORD},
    )
    assert response.status_code == 400
    assert "Another account already uses this e-mail address." in response.content.decode()
    assert mail.outbox == []


def test_wrong_passwords_on_the_e_mail_form_count_like_sign_in_failures(
    client_for, owner, settings
):
    settings.AFTERCARE_LOGIN_MAX_FAILURES = 2
    client = client_for(owner)
    for _ in range(2):
        client.post(
            reverse("accounts:email-change"), {"new_email": "x@example.test", "password": "no"}
        )
    response = client.post(
        reverse("accounts:email-change"), {"new_email": "x@example.test", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert mail.outbox == []
    # The same account counter as the sign-in form.
    login = Client().post(reverse("accounts:login"), {"username": "owner", "password": PASSWORD})
    assert "Too many failed sign-in attempts" in login.content.decode()


def test_user_clean_refuses_a_duplicate_active_address(owner, org):
    twin = customer(org, username="twin")
    twin.email = owner.email.upper()
    with pytest.raises(ValidationError) as refused:
        twin.full_clean()
    assert "email" in refused.value.message_dict
    twin.is_active = False
    twin.full_clean()  # a deactivated account may keep an old address


def test_the_admin_user_form_refuses_a_duplicate_address(owner, org):
    from django.contrib import admin

    twin = customer(org, username="twin")
    form_class = admin.site._registry[User].get_form(SimpleNamespace(user=twin), twin)
    data = {
        "username": "twin",
        "email": owner.email.title(),
        "date_joined_0": "2024-01-01",
        "date_joined_1": "10:00:00",
        "is_active": "on",
        "language": "en",
        "time_zone": "Europe/Bucharest",
    }
    form = form_class(data, instance=twin)
    assert not form.is_valid()
    assert "email" in form.errors


def test_the_migration_keeps_the_oldest_address_and_records_the_others(owner, org):
    from importlib import import_module

    migration = import_module("aftercare.accounts.migrations.0004_resolve_duplicate_emails")
    with connection.cursor() as cursor:  # as before 0005 (rolled back with the test)
        cursor.execute("DROP INDEX accounts_user_active_email_unique")
    twin = customer(org, username="twin", email=owner.email.upper())
    gone = customer(org, username="gone", email=owner.email, is_active=False)
    migration.resolve_duplicates(django_apps, SimpleNamespace(connection=connection))
    owner.refresh_from_db()
    twin.refresh_from_db()
    gone.refresh_from_db()
    assert owner.email == "owner@example.test"
    assert twin.email == ""
    assert gone.email == "owner@example.test"  # inactive: not a duplicate
    event = SecurityEvent.objects.get(action="accounts.email.deduplicated", subject=twin)
    assert "OWNER@EXAMPLE.TEST" in event.reason and f"#{owner.pk}" in event.reason


def test_the_factories_make_distinct_addresses(db):
    users = [UserFactory() for _ in range(3)]
    assert len({u.email.lower() for u in users}) == 3


# -- 6: the admin's sign-in ------------------------------------------------------------


def test_the_admin_login_form_is_throttled_and_signs_nobody_in(client, settings):
    settings.AFTERCARE_LOGIN_MAX_FAILURES = 5
    UserFactory(username="root", is_staff=True, is_superuser=True)
    for _ in range(30):
        client.post(reverse("admin:login"), {"username": "root", "password": "guess"})
    response = client.post(reverse("admin:login"), {"username": "root", "password": PASSWORD})
    assert SESSION_KEY not in client.session
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    response = client.get(reverse("admin:login") + "?next=/admin/accounts/user/")
    assert response["Location"] == reverse("accounts:login") + "?next=/admin/accounts/user/"
    # And the sign-in page it leads to is the throttled one.
    for _ in range(5):
        client.post(reverse("accounts:login"), {"username": "root", "password": "guess"})
    client.post(reverse("accounts:login"), {"username": "root", "password": PASSWORD})
    assert SESSION_KEY not in client.session


def test_a_signed_in_non_admin_is_not_bounced_between_sign_in_pages(client_for, owner):
    response = client_for(owner).get(reverse("admin:login") + "?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def _settings_in(tmp_path, **env) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'2fa': s.AFTERCARE_2FA_REQUIRED_FOR, 'cache': s.CACHES['default'],"
        " 'proxies': s.AFTERCARE_TRUSTED_PROXIES}))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AFTERCARE_", "DEBUG"))}
    base.pop("REDIS_URL", None)
    base.update(DJANGO_SETTINGS_MODULE="aftercare.settings", AFTERCARE_DATA_DIR=str(tmp_path))
    base.update(env)
    out = subprocess.run(
        [sys.executable, "-c", code], env=base, cwd=REPO, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_production_requires_2fa_for_admins_unless_told_otherwise(tmp_path):
    prod = {"AFTERCARE_MODE": "production", "SECRET_KEY": "x" * 50}
    found = _settings_in(tmp_path, **prod)
    assert found["2fa"] == ["admin"]
    assert _settings_in(tmp_path, **prod, AFTERCARE_2FA_REQUIRED_FOR="")["2fa"] == []
    assert _settings_in(tmp_path)["2fa"] == []
    # Without Redis the cache is one all processes of the machine share.
    assert found["cache"]["BACKEND"] == "aftercare.accounts.filecache.SharedFileCache"
    assert found["cache"]["LOCATION"] == str(tmp_path / "cache")


# -- 7: the client address, and counters every process shares -------------------------


def _request(remote: str, forwarded: str | None = None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_x_forwarded_for_is_ignored_without_trusted_proxies(settings):
    settings.AFTERCARE_TRUSTED_PROXIES = []
    assert client_address(_request("198.51.100.7", "203.0.113.1")) == "198.51.100.7"


def test_the_rightmost_untrusted_address_is_the_client(settings):
    settings.AFTERCARE_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    assert client_address(_request("127.0.0.1", "203.0.113.1")) == "203.0.113.1"
    # A client cannot choose its address by sending its own header first.
    spoofed = _request("127.0.0.1", "192.0.2.99, 203.0.113.1, 10.1.2.3")
    assert client_address(spoofed) == "203.0.113.1"
    # Not from a trusted proxy: the header proves nothing.
    assert client_address(_request("198.51.100.7", "203.0.113.1")) == "198.51.100.7"
    # Only proxies: the leftmost.
    assert client_address(_request("127.0.0.1", "10.0.0.5")) == "10.0.0.5"
    # Garbage where an address belongs: the last trusted hop.
    assert client_address(_request("127.0.0.1", "not-an-ip")) == "127.0.0.1"
    assert client_address(_request("127.0.0.1")) == "127.0.0.1"


def test_lockout_behind_the_proxy_counts_each_client_on_its_own(client, settings):
    settings.AFTERCARE_LOGIN_MAX_FAILURES = 2
    settings.AFTERCARE_TRUSTED_PROXIES = ["127.0.0.1"]
    victim = UserFactory(username="victim")
    attacker = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.66")
    for n in range(20):
        attacker.post(reverse("accounts:login"), {"username": f"nobody{n}", "password": "x"})
    honest = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.20")
    response = honest.post(reverse("accounts:login"), {"username": "victim", "password": PASSWORD})
    assert response.status_code == 302
    assert honest.session[SESSION_KEY] == str(victim.pk)
    # The attacker's own address is locked.
    locked = attacker.post(reverse("accounts:login"), {"username": "victim", "password": PASSWORD})
    assert locked.status_code == 200


def test_only_the_network_module_reads_remote_addr():
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "aftercare").rglob("*.py")
        if "tests" not in path.parts
        and path.name != "network.py"
        and re.search(r"[\"']REMOTE_ADDR[\"']", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_default_cache_is_not_per_process():
    assert "locmem" not in django_settings.CACHES["default"]["BACKEND"].lower()


def _count(directory: str, times: int) -> None:
    from aftercare.accounts import throttle
    from aftercare.accounts.filecache import SharedFileCache

    store = SharedFileCache(directory, {})
    throttle.cache = store  # this child process only
    for _ in range(times):
        throttle.bump("shared-counter", 600)


def test_processes_share_the_counters_and_lose_no_count(tmp_path):
    from aftercare.accounts.filecache import SharedFileCache

    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_count, args=(str(tmp_path), 40)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert SharedFileCache(str(tmp_path), {}).get("shared-counter") == 120


def test_incr_keeps_the_expiry(tmp_path):
    from aftercare.accounts.filecache import SharedFileCache

    store = SharedFileCache(str(tmp_path), {})
    store.add("k", 0, 100)
    store.incr("k")
    with time_machine.travel(time.time() + 101):
        assert store.get("k") is None
        with pytest.raises(ValueError):
            store.incr("k")


# -- 8: password change and reset ------------------------------------------------------


def test_the_profile_and_sign_in_pages_link_to_the_password_pages(client_for, owner):
    page = client_for(owner).get(reverse("accounts:profile")).content.decode()
    assert reverse("accounts:password-change") in page
    assert (
        reverse("accounts:password-reset")
        in Client().get(reverse("accounts:login")).content.decode()
    )


def test_a_password_change_needs_the_old_password_and_is_throttled(client_for, owner, settings):
    settings.AFTERCARE_LOGIN_MAX_FAILURES = 2
    client = client_for(owner)
    url = reverse("accounts:password-change")
    new = {"new_password1": "Brand-new-pass-987", "new_password2": "Brand-new-pass-987"}
    for _ in range(2):
        assert client.post(url, {"old_password": "wrong", **new}).status_code == 200
    response = client.post(url, {"old_password": PASSWORD, **new})
    assert response.status_code == 200
    assert "Too many failed attempts" in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_a_password_change_keeps_the_session(client_for, owner):
    client = client_for(owner)
    url = reverse("accounts:password-change")
    new = {"new_password1": "Brand-new-pass-987", "new_password2": "Brand-new-pass-987"}
    response = client.post(url, {"old_password": PASSWORD, **new})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("Brand-new-pass-987")
    assert client.get(reverse("accounts:profile")).status_code == 200


def test_a_reset_answers_the_same_whether_or_not_the_account_exists(client, owner):
    url = reverse("accounts:password-reset")
    known = client.post(url, {"email": owner.email.upper()})
    unknown = client.post(url, {"email": "nobody@example.test"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("accounts:password-reset-done")
    assert "If an account exists" in client.get(known["Location"]).content.decode()
    [sent] = mail.outbox
    assert sent.to == [owner.email]


def test_the_reset_link_sets_a_new_password_once(client, owner, settings):
    settings.AFTERCARE_BASE_URL = "https://desk.example.test"
    client.post(reverse("accounts:password-reset"), {"email": owner.email}, HTTP_HOST="localhost")
    url = _link(mail.outbox[0], r"https://desk\.example\.test/accounts/password/reset/\S+/\S+/")
    path = url.removeprefix(settings.AFTERCARE_BASE_URL)
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0]
    new = {"new_password1": "Brand-new-pass-987", "new_password2": "Brand-new-pass-987"}
    assert client.post(set_url, new).status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("Brand-new-pass-987")
    again = Client().get(path, follow=True)
    assert again.status_code == 404
    assert "not valid" in again.content.decode()


def test_reset_requests_are_throttled_without_revealing_accounts(client, owner, settings):
    settings.AFTERCARE_LOGIN_MAX_FAILURES = 2
    url = reverse("accounts:password-reset")
    for email in (owner.email, "nobody@example.test"):
        answers = [client.post(url, {"email": email}).status_code for _ in range(3)]
        assert answers == [302, 302, 200]
    assert len(mail.outbox) == 2
    # Per client address too: other addresses from the same client.
    fresh = Client(REMOTE_ADDR="198.51.100.30")
    codes = [fresh.post(url, {"email": f"n{i}@example.test"}).status_code for i in range(9)]
    assert codes[:8] == [302] * 8 and codes[8] == 200


def test_the_reset_mail_is_in_the_account_language(client, owner, monkeypatch):
    from django.contrib.auth.forms import PasswordResetForm

    owner.language = "fr"
    owner.save()
    seen = []

    def record(self, *args, **kwargs):
        seen.append(translation.get_language())

    monkeypatch.setattr(PasswordResetForm, "send_mail", record)
    client.post(reverse("accounts:password-reset"), {"email": owner.email})
    assert seen == ["fr"]


def test_an_administrator_restricted_to_one_customer_cannot_use_the_django_admin(org, client_for):
    """The admin lists unscoped rows of every organisation (people, webhooks)."""
    from aftercare.accounts.roles import Role
    from aftercare.tenancy.models import AgentRestriction
    from aftercare.tenancy.tests.factories import staff

    admin_user = staff(Role.ADMIN, username="restricted-admin", is_staff=True)
    client = client_for(admin_user)
    assert client.get("/admin/webhooks/subscription/").status_code == 200
    AgentRestriction.objects.create(user=admin_user, organisation=org)
    response = client_for(admin_user).get("/admin/webhooks/subscription/")
    assert response.status_code == 302
    assert client_for(admin_user).get("/admin/accounts/user/").status_code == 302


def test_incr_writes_in_place_and_a_shorter_record_reads_back(tmp_path):
    """Counters are rewritten in place (no rename: ext4 flushes a renamed-over file); a
    record shorter than the old one leaves bytes the reader never reaches."""
    import os

    from aftercare.accounts.filecache import SharedFileCache

    store = SharedFileCache(str(tmp_path), {})
    store.add("k", 10**12, 100)  # a long record first
    fname = store._key_to_file("k")
    inode = os.stat(fname).st_ino
    assert store.incr("k", -(10**12) + 1) == 1  # a much shorter one over it
    assert os.stat(fname).st_ino == inode
    assert store.get("k") == 1
    assert store.incr("k") == 2
    assert store.get("k") == 2
