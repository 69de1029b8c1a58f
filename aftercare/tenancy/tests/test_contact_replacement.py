"""A contact person leaves: the replacement due in two working days, reminders, the page."""

from __future__ import annotations

from datetime import date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from aftercare.accounts.roles import Role
from aftercare.mail.models import OutboundMail
from aftercare.tenancy.contacts import remind_missing_replacements, replacement_due
from aftercare.tenancy.models import AgentRestriction, ContactPerson
from aftercare.tenancy.tests.factories import customer

pytestmark = pytest.mark.django_db
BUC = ZoneInfo("Europe/Bucharest")


@pytest.fixture
def romania(org):
    org.country = "RO"
    org.time_zone = "Europe/Bucharest"
    org.save()
    return org


@pytest.fixture
def leaver(romania):
    """Left on Thursday 26 November 2026; the replacement is due by Tuesday 1 December
    (Friday 27 is a working day, 30 November and 1 December are Romanian holidays —
    Sf. Andrei and the National Day — so: Friday 27, Wednesday 2 December)."""
    return ContactPerson.objects.create(
        organisation=romania,
        name="Mihai Ionescu",
        role="IT manager",
        email="mihai@alpha.example",
        left_on=date(2026, 11, 26),
    )


def test_two_working_days_skip_weekends_and_the_countrys_holidays(romania, leaver):
    assert replacement_due(romania, date(2026, 11, 26)) == date(2026, 12, 2)
    assert replacement_due(romania, date(2026, 11, 10)) == date(2026, 11, 12)  # Tue → Thu
    assert replacement_due(romania, date(2026, 11, 13)) == date(2026, 11, 17)  # Fri → Tue
    assert leaver.replacement_due == date(2026, 12, 2)


def test_coordinators_and_only_they_are_reminded_once_a_day(
    romania, leaver, coordinator, owner, other_org, outsider, operator
):
    second = customer(romania, role=Role.COORDINATOR, username="coord2", email="c2@alpha.example")
    customer(other_org, role=Role.COORDINATOR, username="beta-coord")
    # Within the two working days: nobody is reminded.
    assert remind_missing_replacements(now=datetime(2026, 12, 2, 17, tzinfo=BUC)) == 0
    assert not OutboundMail.objects.filter(kind="contact_replacement").exists()
    # The day after: Alpha's two coordinators, nobody else.
    day = datetime(2026, 12, 3, 9, tzinfo=BUC)
    assert remind_missing_replacements(now=day) == 2
    mails = OutboundMail.objects.filter(kind="contact_replacement")
    assert {m.recipient for m in mails} == {coordinator, second}
    assert all("Mihai Ionescu" in m.subject and "Mihai Ionescu" in m.body_text for m in mails)
    # Again the same day (a repeated run): nothing more. The next day: once more.
    assert remind_missing_replacements(now=datetime(2026, 12, 3, 15, tzinfo=BUC)) == 0
    assert remind_missing_replacements(now=datetime(2026, 12, 4, 9, tzinfo=BUC)) == 2
    assert OutboundMail.objects.filter(kind="contact_replacement").count() == 4
    # Named: no more reminders.
    new = ContactPerson.objects.create(organisation=romania, name="Elena Pop", role="IT")
    leaver.replaced_by = new
    leaver.save()
    assert remind_missing_replacements(now=datetime(2026, 12, 7, 9, tzinfo=BUC)) == 0


def test_a_replacement_must_be_a_contact_of_the_same_customer(leaver, other_org):
    stranger = ContactPerson.objects.create(organisation=other_org, name="Olga Beta")
    leaver.replaced_by = stranger
    with pytest.raises(ValidationError) as exc:
        leaver.full_clean()
    assert "same customer" in str(exc.value)
    leaver.replaced_by = leaver
    with pytest.raises(ValidationError):
        leaver.full_clean()


def test_the_command_runs_the_reminder_once(leaver, coordinator, time_machine):
    time_machine.move_to(datetime(2026, 12, 3, 9, tzinfo=BUC), tick=False)
    out = StringIO()
    call_command("contacts_remind", stdout=out)
    assert "1 reminder(s) queued" in out.getvalue()
    call_command("contacts_remind", stdout=out)
    assert OutboundMail.objects.filter(kind="contact_replacement").count() == 1


def test_the_organisation_page_shows_who_is_missing(
    leaver, romania, other_org, client_for, manager, operator
):
    url = reverse("console:organisation", args=[romania.code])
    body = client_for(manager).get(url).content.decode()
    assert "Mihai Ionescu" in body and "replacement due by" in body
    # An agent restricted to another organisation cannot open it at all.
    AgentRestriction.objects.create(user=operator, organisation=other_org)
    response = client_for(operator).get(url)
    assert response.status_code == 404
    assert "Mihai Ionescu" not in response.content.decode()
