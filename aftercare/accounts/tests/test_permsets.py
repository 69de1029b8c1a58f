"""PermSet: the same answers as Django's permission checks, computed once per request."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from aftercare.accounts.roles import PermSet, Role, shared_permsets
from aftercare.tenancy.models import AgentRestriction, Membership
from aftercare.tenancy.tests.factories import customer, staff

pytestmark = pytest.mark.django_db


def _fresh(user):
    return type(user).objects.get(pk=user.pk)


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.CONSULTANT, Role.MANAGER, Role.ADMIN])
def test_its_permissions_are_djangos_for_staff(role):
    user = staff(role, username=f"s-{role}")
    assert PermSet(_fresh(user)).perms == frozenset(_fresh(user).get_all_permissions())


def test_a_permission_given_to_the_person_alone_counts(org):
    user = customer(org, username="c1")
    perm = Permission.objects.get(codename="view_article", content_type__app_label="kb")
    user.user_permissions.add(perm)
    permset = PermSet(_fresh(user))
    assert "kb.view_article" in permset.perms
    assert permset.perms == frozenset(_fresh(user).get_all_permissions())
    # ...and Django's own check agrees on the same instance.
    assert permset.user.has_perm("kb.view_article")


def test_a_disabled_account_has_none(org):
    user = staff(Role.ADMIN, username="gone")
    user.is_active = False
    user.save()
    assert PermSet(_fresh(user)).perms == frozenset()


def test_one_instance_per_person_within_a_request_and_a_change_forgets_it(org, other_org):
    user = staff(Role.OPERATOR, username="op")
    with shared_permsets():
        first = PermSet(user)
        assert PermSet(_fresh(user)) is first
        assert first.organisation_scope is None
        AgentRestriction.objects.create(user=user, organisation=other_org)
        after = PermSet(user)
        assert after is not first
        assert after.organisation_scope == [other_org.pk]
    assert PermSet(user) is not PermSet(user)  # outside a request: never shared


def test_a_new_membership_is_seen_by_the_next_check_in_the_same_request(org):
    user = customer(org, username="c2")
    other = type(org).objects.create(name="Gamma", code="gamma")
    with shared_permsets():
        assert other.pk not in PermSet(user).memberships
        Membership.objects.create(user=user, organisation=other, role=Role.CUSTOMER)
        assert other.pk in PermSet(user).memberships
