"""Deadlines extended by agreement with the customer: the clock, breaches, reports, rights."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from aftercare.desk import services as desk
from aftercare.desk.models import Event, Priority, Status, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.sla import reports, services
from aftercare.sla.models import SlaClock, SlaExtension
from aftercare.tenancy.models import AgentRestriction, ContactPerson

pytestmark = pytest.mark.django_db
BUC = ZoneInfo("Europe/Bucharest")


def at(*args):
    return datetime(*args, tzinfo=BUC)


@pytest.fixture
def late_one(owner, org):
    """A high-priority request whose resolution target (a day or so) will be missed."""
    with time_machine.travel(at(2026, 11, 9, 10), tick=False):
        return ticket_for(owner, org, priority=Priority.HIGH, subject="Month-end closing fails")


@pytest.fixture
def cfo(org):
    return ContactPerson.objects.create(organisation=org, name="Ioana Rusu", role="CFO")


def _clock(ticket) -> SlaClock:
    return SlaClock.objects.get(ticket=ticket, metric="resolution")


def test_an_agreed_extension_moves_the_deadline_and_prevents_the_breach(late_one, cfo, consultant):
    original = _clock(late_one).deadline
    new = at(2026, 11, 27, 17)
    with time_machine.travel(at(2026, 11, 9, 11), tick=False):
        desk.reply(ticket=late_one, actor=consultant, body="We are on it.")
    with time_machine.travel(at(2026, 11, 9, 12), tick=False):
        ext = services.extend(
            ticket=late_one,
            actor=consultant,
            metric="resolution",
            agreed_by=cfo,
            new_deadline=new,
            reason="Waiting for the bank's new statement format",
        )
    assert (ext.previous_deadline, ext.new_deadline) == (original, new)
    clock = _clock(late_one)
    assert clock.deadline == new and clock.warn_at < new
    late_one.refresh_from_db()
    assert late_one.sla_due_at == new
    event = Event.objects.get(ticket=late_one, action="sla.extended")
    assert event.actor == consultant and "Ioana Rusu" in event.note and event.is_internal
    # The periodic check goes by the agreed deadline: not breached past the old one.
    assert services.check(now=at(2026, 11, 20, 12))["breached"] == 0
    assert _clock(late_one).breached_at is None
    with time_machine.travel(at(2026, 11, 20, 12), tick=False):
        for target in (Status.IN_PROGRESS, Status.DONE):
            desk.transition(ticket=late_one, actor=consultant, target=target)
    clock = _clock(late_one)
    assert clock.state == SlaClock.State.MET
    assert clock.elapsed_minutes > clock.target_minutes  # met only by the extension
    # The report: met, not breached, and shown as met by extension; the extension listed.
    rep = reports.build(
        Ticket.objects.all(),
        SlaClock.objects.all(),
        date(2026, 11, 1),
        date(2026, 11, 1),
        now=at(2026, 11, 25, 12),
    )
    row = rep.by_metric["resolution"]["all"][0]
    assert (row.total, row.met, row.breached, row.extended) == (1, 1, 0, 1)
    assert rep.extensions_total == 1 and rep.extensions == [ext]


def test_an_extension_running_out_is_still_a_breach(late_one, cfo, consultant):
    with time_machine.travel(at(2026, 11, 9, 12), tick=False):
        services.extend(
            ticket=late_one,
            actor=consultant,
            metric="resolution",
            agreed_by=cfo,
            new_deadline=at(2026, 11, 13, 17),
            reason="Year-end freeze",
        )
    assert services.check(now=at(2026, 11, 13, 16))["breached"] == 1  # first response only
    assert _clock(late_one).breached_at is None
    assert services.check(now=at(2026, 11, 16, 12))["breached"] == 1
    assert _clock(late_one).breached_at is not None
    rep = reports.build(
        Ticket.objects.all(),
        SlaClock.objects.all(),
        date(2026, 11, 1),
        date(2026, 11, 1),
        now=at(2026, 11, 25, 12),
    )
    row = rep.by_metric["resolution"]["all"][0]
    assert (row.total, row.met, row.extended) == (1, 0, 0)
    # A missed target cannot be extended after the fact.
    with (
        time_machine.travel(at(2026, 11, 16, 13), tick=False),
        pytest.raises(services.ExtensionError),
    ):
        services.extend(
            ticket=late_one,
            actor=consultant,
            metric="resolution",
            agreed_by=cfo,
            new_deadline=at(2026, 12, 1, 17),
            reason="Too late",
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reason": "  "}, "reason"),
        ({"new_deadline": at(2026, 11, 9, 11)}, "future"),
        ({"new_deadline": at(2026, 11, 9, 13)}, "later than the current one"),
        ({"metric": "nonsense"}, "no running clock"),
    ],
)
def test_bad_extensions_are_refused_with_a_reason(late_one, cfo, consultant, change, message):
    kwargs = {
        "ticket": late_one,
        "actor": consultant,
        "metric": "resolution",
        "agreed_by": cfo,
        "new_deadline": at(2026, 11, 27, 17),
        "reason": "Agreed on the phone",
        **change,
    }
    with (
        time_machine.travel(at(2026, 11, 9, 12), tick=False),
        pytest.raises(services.ExtensionError) as exc,
    ):
        services.extend(**kwargs)
    assert message in str(exc.value)
    assert not SlaExtension.objects.exists()


def test_extensions_never_cross_organisations(
    late_one, cfo, other_org, consultant, operator, outsider, coordinator, client_for, manager
):
    beta_contact = ContactPerson.objects.create(organisation=other_org, name="Olga Beta")
    kwargs = {
        "ticket": late_one,
        "metric": "resolution",
        "new_deadline": at(2026, 11, 27, 17),
        "reason": "Agreed",
    }
    with time_machine.travel(at(2026, 11, 9, 12), tick=False):
        # Another organisation's contact cannot agree for this one.
        with pytest.raises(services.ExtensionError):
            services.extend(actor=consultant, agreed_by=beta_contact, **kwargs)
        # An agent restricted to the other organisation, and customers, are refused.
        AgentRestriction.objects.create(user=operator, organisation=other_org)
        for actor in (operator, outsider, coordinator):
            with pytest.raises(PermissionDenied):
                services.extend(actor=actor, agreed_by=cfo, **kwargs)
        assert not SlaExtension.objects.exists()
        services.extend(actor=consultant, agreed_by=cfo, **kwargs)
    # The reports: Alpha's coordinator and the staff see it; Beta's coordinator does not.
    params = {"from": "2026-11", "to": "2026-11"}
    with time_machine.travel(at(2026, 11, 25, 12), tick=False):
        staff_page = client_for(manager).get(reverse("console:reports"), params)
        alpha_page = client_for(coordinator).get(reverse("portal:reports"), params)
        beta_page = client_for(outsider).get(reverse("portal:reports"), params)
    assert "Ioana Rusu" in staff_page.content.decode()
    assert "Ioana Rusu" in alpha_page.content.decode()
    assert beta_page.status_code == 200
    assert "Ioana Rusu" not in beta_page.content.decode()
    assert late_one.number not in beta_page.content.decode()
