"""A clock still running past its due time is a breach the report must show.

The incident: the report said "Critical 100 %" while three Critical requests were more
than a day overdue and unanswered, because only stopped clocks were counted.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from aftercare.desk import services as desk
from aftercare.desk.models import Priority, Status, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.sla import reports, services
from aftercare.sla.models import Metric, SlaClock

pytestmark = pytest.mark.django_db
BUC = ZoneInfo("Europe/Bucharest")


def at(*args):
    return datetime(*args, tzinfo=BUC)


def build(month=(2026, 11), now=None):
    first = date(*month, 1)
    return reports.build(
        Ticket.objects.all(), SlaClock.objects.all(), first, first, now=now or at(2026, 11, 25, 12)
    )


def by_priority(rep, metric=Metric.FIRST_RESPONSE):
    return {
        r.label: (r.total, r.met, r.breached, r.compliance)
        for r in rep.by_metric[metric]["priority"]
    }


@pytest.fixture
def overdue_critical(owner, org):
    """Three Critical requests filed on Monday 9 November, never answered."""
    with time_machine.travel(at(2026, 11, 9, 10), tick=False):
        return [
            ticket_for(owner, org, priority=Priority.CRITICAL, subject=f"Down {n}")
            for n in range(3)
        ]


def test_three_overdue_unanswered_critical_requests_are_zero_percent(overdue_critical):
    clock = SlaClock.objects.get(ticket=overdue_critical[0], metric=Metric.FIRST_RESPONSE)
    assert clock.state == SlaClock.State.RUNNING and clock.stopped_at is None
    assert clock.deadline < at(2026, 11, 24, 12)  # more than a day overdue at "now"
    rep = build()
    assert by_priority(rep)["Critical"] == (3, 0, 3, 0.0)
    first = rep.by_metric[Metric.FIRST_RESPONSE]["all"][0]
    assert (first.total, first.met, first.breached) == (3, 0, 3)
    assert rep.overdue[Metric.FIRST_RESPONSE] == 3
    month = rep.by_metric[Metric.FIRST_RESPONSE]["month"]
    assert [(r.label, r.compliance) for r in month] == [("2026-11", 0.0)]


def test_a_clock_not_yet_due_is_not_counted(owner, org):
    with time_machine.travel(at(2026, 11, 25, 11), tick=False):
        ticket_for(owner, org, priority=Priority.CRITICAL)
    rep = build(now=at(2026, 11, 25, 11, 5))
    assert rep.by_metric[Metric.FIRST_RESPONSE]["all"][0].total == 0
    assert rep.overdue[Metric.FIRST_RESPONSE] == 0


def test_met_in_time_met_late_and_overdue_side_by_side(owner, org, consultant):
    with time_machine.travel(at(2026, 11, 9, 10), tick=False):
        in_time = ticket_for(owner, org, priority=Priority.CRITICAL, subject="Answered fast")
        late = ticket_for(owner, org, priority=Priority.CRITICAL, subject="Answered late")
        ticket_for(owner, org, priority=Priority.CRITICAL, subject="Never answered")
    with time_machine.travel(at(2026, 11, 9, 10, 5), tick=False):
        desk.reply(ticket=in_time, actor=consultant, body="Looking")
    with time_machine.travel(at(2026, 11, 16, 10), tick=False):
        desk.reply(ticket=late, actor=consultant, body="Sorry for the wait")
    states = dict(
        SlaClock.objects.filter(metric=Metric.FIRST_RESPONSE).values_list(
            "ticket__subject", "state"
        )
    )
    assert states == {
        "Answered fast": "met",
        "Answered late": "breached",
        "Never answered": "running",
    }
    rep = build()
    assert by_priority(rep)["Critical"] == (3, 1, 2, 33.3)
    assert rep.overdue[Metric.FIRST_RESPONSE] == 1
    # Median and percentiles stay about stopped clocks: a running one has no final time.
    assert rep.times[Metric.FIRST_RESPONSE]["count"] == 2


def test_an_overdue_clock_counts_in_the_month_its_due_time_falls(owner, org):
    """Filed 30 November 17:30, due in December: November has nothing, December a breach."""
    with time_machine.travel(at(2026, 11, 30, 17, 30), tick=False):
        ticket_for(owner, org, priority=Priority.NORMAL)
    clock = SlaClock.objects.get(metric=Metric.FIRST_RESPONSE)
    assert clock.deadline.astimezone(BUC).month == 12
    now = at(2026, 12, 20, 12)
    assert build((2026, 11), now=now).by_metric[Metric.FIRST_RESPONSE]["all"][0].total == 0
    december = build((2026, 12), now=now).by_metric[Metric.FIRST_RESPONSE]["all"][0]
    assert (december.total, december.breached) == (1, 1)


def test_a_paused_clock_counts_only_if_it_breached_before_the_pause(owner, org, consultant):
    with time_machine.travel(at(2026, 11, 9, 10), tick=False):
        breached = ticket_for(
            owner, org, priority=Priority.CRITICAL, subject="Breached, then waiting"
        )
        fresh = ticket_for(owner, org, priority=Priority.CRITICAL, subject="Waiting in time")
    with time_machine.travel(at(2026, 11, 9, 10, 1), tick=False):
        for t in (fresh,):
            desk.transition(ticket=t, actor=consultant, target=Status.IN_PROGRESS)
            desk.transition(ticket=t, actor=consultant, target=Status.WAITING)
    with time_machine.travel(at(2026, 11, 12, 10), tick=False):
        services.check()
        desk.transition(ticket=breached, actor=consultant, target=Status.IN_PROGRESS)
        desk.transition(ticket=breached, actor=consultant, target=Status.WAITING)
    resolution = {
        c.ticket.subject: c
        for c in SlaClock.objects.filter(metric=Metric.RESOLUTION).select_related("ticket")
    }
    assert resolution["Breached, then waiting"].state == SlaClock.State.PAUSED
    assert resolution["Breached, then waiting"].breached_at is not None
    assert resolution["Waiting in time"].state == SlaClock.State.PAUSED
    assert resolution["Waiting in time"].breached_at is None
    rows = build().by_metric[Metric.RESOLUTION]["all"][0]
    assert (rows.total, rows.met, rows.breached) == (1, 0, 1)


def test_the_page_shows_the_overdue_requests(overdue_critical, client_for, manager):
    with time_machine.travel(at(2026, 11, 25, 12), tick=False):
        page = client_for(manager).get(
            reverse("console:reports"), {"from": "2026-11", "to": "2026-11"}
        )
    assert page.status_code == 200
    html = page.content.decode()
    assert "0 of 3 within target" in html
    assert "Includes 3 requests still open past their due time." in html
    assert "Critical</td><td>3</td><td>0</td><td>3</td><td>0.0" in html
