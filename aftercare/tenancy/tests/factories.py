from __future__ import annotations

from datetime import date

import factory
from django.contrib.auth.models import Group
from factory.django import DjangoModelFactory

from aftercare.accounts.models import User
from aftercare.accounts.roles import GROUP_NAMES, Role
from aftercare.tenancy.models import Contract, Membership, Organisation, System


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Person"
    password = factory.django.Password("pw-for-tests-123")


def staff(role: str, **kwargs) -> User:
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=GROUP_NAMES[role]))
    return user


class OrganisationFactory(DjangoModelFactory[Organisation]):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Customer {n}")
    code = factory.Sequence(lambda n: f"cust{n}")
    country = "RO"
    time_zone = "Europe/Bucharest"


class MembershipFactory(DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = Role.CUSTOMER


def customer(organisation: Organisation, role: str = Role.CUSTOMER, **kwargs) -> User:
    user = UserFactory(**kwargs)
    Membership.objects.create(user=user, organisation=organisation, role=role)
    return user


class ContractFactory(DjangoModelFactory[Contract]):
    class Meta:
        model = Contract

    organisation = factory.SubFactory(OrganisationFactory)
    number = factory.Sequence(lambda n: f"C-{n}")
    starts_on = date(2020, 1, 1)


class SystemFactory(DjangoModelFactory[System]):
    class Meta:
        model = System

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"ERP {n}")
    product = "ERP"
    version = "1.0"
