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
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()


def require_service(name: str, reason: str):
    """Skip locally when a service is missing; fail in CI (AFTERCARE_REQUIRE_SERVICES=1)."""
    if os.environ.get("AFTERCARE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{name} is required in CI but unavailable: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


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
