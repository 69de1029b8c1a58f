"""Fixtures shared by every test: the three-user cast and clients signed in as them."""

from __future__ import annotations

import os

import pytest
from django_scopes import scopes_disabled

from aftercare.accounts.roles import Role


@pytest.fixture(autouse=True)
def _unscoped_test_code():
    """Test set-up and assertions see every row; requests still run in their own scope."""
    with scopes_disabled():
        yield


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _huey_immediate(settings):
    """Jobs run inline in tests; tests/test_huey_consumer.py runs the real consumer."""
    settings.HUEY.immediate = True
    # Follow-ups run in the change's transaction (pytest-django never commits);
    # desk/tests/test_followups.py runs them after real commits.
    settings.AFTERCARE_FOLLOWUPS = "inline"


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _maintenance_flag(settings):
    """Each test reads the maintenance flag once, then keeps it (stable query counts)."""
    from aftercare.ops import maintenance

    settings.AFTERCARE_MAINTENANCE_CACHE_SECONDS = 3600
    maintenance.forget()
    yield
    maintenance.forget()


def require_service(name: str, reason: str):
    """Skip locally when a service is missing; fail in CI (AFTERCARE_REQUIRE_SERVICES=1)."""
    if os.environ.get("AFTERCARE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{name} is required in CI but unavailable: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


def database_url() -> str:
    """The test database as a URL, for processes a test starts (workers, ingesters)."""
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    return "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(
        **{k: params.get(k) or "" for k in ("USER", "HOST", "PORT", "NAME")}
    )


@pytest.fixture(autouse=True)
def _migration_data(request):
    """Rows that migrations create (staff groups, the default SLA plan).

    A transactional test empties every table when it ends, so the next test would find
    them gone; put them back (idempotent) for any test that uses the database.
    """
    if "django_db" not in request.keywords and not {"db", "transactional_db"} & set(
        request.fixturenames
    ):
        yield
        return
    request.getfixturevalue("transactional_db" if _is_transactional(request) else "db")
    from aftercare.accounts.roles import sync_role_groups
    from aftercare.sla.defaults import ensure_default_plan
    from aftercare.sla.models import SlaPlan, SlaTarget

    sync_role_groups()
    ensure_default_plan(SlaPlan, SlaTarget)
    yield


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    if marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        return True
    return "transactional_db" in request.fixturenames or "live_server" in request.fixturenames


@pytest.fixture
def org(db):
    from aftercare.tenancy.tests.factories import OrganisationFactory

    return OrganisationFactory(name="Alpha Foods", code="alpha")


@pytest.fixture
def other_org(db):
    from aftercare.tenancy.tests.factories import OrganisationFactory

    return OrganisationFactory(
        name="Beta Logistics", code="beta", country="UA", time_zone="Europe/Kyiv"
    )


@pytest.fixture
def owner(org):
    """A customer user of ``org`` (files their own requests)."""
    from aftercare.tenancy.tests.factories import customer

    return customer(org, username="owner")


@pytest.fixture
def teammate(org):
    """Another customer user of the same organisation (not a coordinator)."""
    from aftercare.tenancy.tests.factories import customer

    return customer(org, username="teammate")


@pytest.fixture
def coordinator(org):
    from aftercare.tenancy.tests.factories import customer

    return customer(org, role=Role.COORDINATOR, username="coordinator")


@pytest.fixture
def outsider(other_org):
    """A coordinator of another organisation: must never see ``org``'s data."""
    from aftercare.tenancy.tests.factories import customer

    return customer(other_org, role=Role.COORDINATOR, username="outsider")


@pytest.fixture
def operator(db):
    from aftercare.tenancy.tests.factories import staff

    return staff(Role.OPERATOR, username="operator")


@pytest.fixture
def consultant(db):
    from aftercare.tenancy.tests.factories import staff

    return staff(Role.CONSULTANT, username="consultant")


@pytest.fixture
def developer(db):
    from aftercare.tenancy.tests.factories import staff

    return staff(Role.DEVELOPER, username="developer")


@pytest.fixture
def manager(db):
    from aftercare.tenancy.tests.factories import staff

    return staff(Role.MANAGER, username="manager")


@pytest.fixture
def ticket(owner, org):
    from aftercare.desk.tests.factories import ticket_for

    return ticket_for(owner, org)


@pytest.fixture
def client_for(client):
    """``client_for(user)`` returns a test client signed in as ``user``."""
    from django.test import Client

    def make(user):
        c = Client()
        c.force_login(user)
        return c

    return make


@pytest.fixture
def smtp_sink(settings):
    """A real SMTP server on 127.0.0.1 (aiosmtpd); Django's SMTP backend points at it."""
    from aiosmtpd.controller import Controller

    from aftercare.mail.tests.servers import SmtpSink, free_port

    port = free_port()
    sink = SmtpSink("127.0.0.1", port)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def dovecot():
    """A throwaway Dovecot IMAP server with one mailbox (see RECIPES.md).

    Its folder is outside pytest's private temporary folder: Dovecot's processes run as
    the ``mail`` and ``dovenull`` users, who must be able to enter it.
    """
    import shutil
    import tempfile
    from pathlib import Path

    from aftercare.mail.tests.servers import Dovecot, free_port

    missing = Dovecot.available()
    if missing:
        require_service("Dovecot", missing)
    directory = Path(tempfile.mkdtemp(prefix="aftercare-dovecot-"))
    server = Dovecot(directory, free_port()).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


# -- a real browser ---------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"  # Debian's; a browser is never downloaded
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BROWSER_TIMEOUT_MS = 10_000
TEST_PASSWORD = "pw-for-tests-123"  # noqa: S105 - UserFactory's password


def browser_sign_in(browser, base_url: str, username: str, **context_options):
    """A fresh browser context (its own cookies) signed in through the real sign-in page."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=base_url, **context_options)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return context, page


@pytest.fixture
def browser(monkeypatch):
    """Headless Chromium for one test; skipped locally (failed in CI) when it is missing."""
    if not os.path.exists(CHROMIUM):
        require_service("Chromium", f"{CHROMIUM} is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    from django.db import connections

    # Playwright's sync API keeps an event loop running in this thread; the ORM calls the
    # test itself makes (set-up, checks) would otherwise be refused as "async unsafe".
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        sync_api.expect.set_options(timeout=BROWSER_TIMEOUT_MS)
        try:
            yield chromium
        finally:
            chromium.close()
            # Inside sync_playwright() Django's connection handler (an asgiref Local) hands
            # out *other* connection objects than outside it. Close them here, or the one
            # the test used stays open and PostgreSQL refuses to drop the test database.
            connections.close_all()
