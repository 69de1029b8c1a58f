"""The SLA engine on real requests, with the clock frozen at chosen instants."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from aftercare.desk import services as desk
from aftercare.desk.models import Event, Level, Priority, Status, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.sla import services as sla
from aftercare.sla.models import Metric, Notification, SlaClock, SlaPause

pytestmark = pytest.mark.django_db
BUC = ZoneInfo("Europe/Bucharest")


def at(*args):
    return datetime(*args, tzinfo=BUC)


def clock(ticket, metric=Metric.RESOLUTION) -> SlaClock:
    return SlaClock.objects.get(ticket=ticket, metric=metric)


@pytest.fixture
def filed(owner, org):
    """A normal-priority request filed on Monday 9 Nov 2026 at 10:00 in Bucharest."""
    with time_machine.travel(at(2026, 11, 9, 10), tick=False):
        return ticket_for(owner, org, priority=Priority.NORMAL)


def test_it_starts_both_clocks_from_the_default_plan(filed):
    assert clock(filed, Metric.FIRST_RESPONSE).deadline == at(2026, 11, 9, 14)
    # Five business days of nine hours: the next Monday at 10:00.
    assert clock(filed).deadline == at(2026, 11, 16, 10)
    filed.refresh_from_db()
    assert filed.sla_due_at == at(2026, 11, 9, 14) and filed.sla_state == "ok"


def test_a_desk_reply_is_the_first_response_and_a_customer_reply_is_not(filed, owner, consultant):
    with time_machine.travel(at(2026, 11, 9, 11), tick=False):
        desk.reply(ticket=filed, actor=owner, body="Any news?")
    assert clock(filed, Metric.FIRST_RESPONSE).stopped_at is None
    with time_machine.travel(at(2026, 11, 9, 12), tick=False):
        desk.reply(ticket=filed, actor=consultant, body="Looking into it.")
    fr = clock(filed, Metric.FIRST_RESPONSE)
    assert fr.state == SlaClock.State.MET and fr.elapsed_minutes == 120


def test_an_internal_note_is_not_a_response(filed, consultant):
    with time_machine.travel(at(2026, 11, 9, 12), tick=False):
        desk.reply(ticket=filed, actor=consultant, body="check logs", internal=True)
    assert clock(filed, Metric.FIRST_RESPONSE).stopped_at is None


def _wait(ticket, consultant, owner, start, end):
    with time_machine.travel(start, tick=False):
        desk.transition(ticket=ticket, actor=consultant, target=Status.IN_PROGRESS)
        desk.transition(ticket=ticket, actor=consultant, target=Status.WAITING)
    with time_machine.travel(end, tick=False):
        desk.reply(ticket=ticket, actor=owner, body="Here is the screenshot")


def test_waiting_for_the_customer_pauses_the_resolution_clock(filed, consultant, owner):
    with time_machine.travel(at(2026, 11, 9, 11), tick=False):
        desk.reply(ticket=filed, actor=consultant, body="Could you send a screenshot?")
    with time_machine.travel(at(2026, 11, 10, 10), tick=False):
        desk.transition(ticket=filed, actor=consultant, target=Status.IN_PROGRESS)
        desk.transition(ticket=filed, actor=consultant, target=Status.WAITING)
    c = clock(filed)
    assert c.state == SlaClock.State.PAUSED and c.deadline is None
    filed.refresh_from_db()
    assert filed.sla_state == "paused"
    with time_machine.travel(at(2026, 11, 12, 10), tick=False):
        desk.reply(ticket=filed, actor=owner, body="Here is the screenshot")
    c = clock(filed)
    assert c.state == SlaClock.State.RUNNING
    # Two business days paused: the deadline moves from Monday 16 to Wednesday 18.
    assert c.deadline == at(2026, 11, 18, 10)
    pause = SlaPause.objects.get(clock=c)
    assert (pause.started_at, pause.ended_at) == (at(2026, 11, 10, 10), at(2026, 11, 12, 10))


def test_a_weekend_pause_costs_no_business_time(filed, consultant, owner):
    _wait(filed, consultant, owner, at(2026, 11, 13, 18), at(2026, 11, 16, 9))
    assert clock(filed).deadline == at(2026, 11, 16, 10)


def test_changing_priority_keeps_the_pauses(filed, consultant, owner, operator):
    _wait(filed, consultant, owner, at(2026, 11, 10, 10), at(2026, 11, 12, 10))
    with time_machine.travel(at(2026, 11, 12, 11), tick=False):
        desk.reprioritise(
            ticket=filed, actor=operator, priority=Priority.HIGH, reason="Blocks invoicing"
        )
    c = clock(filed)
    assert c.target_minutes == 2 * 540
    # Start + 2 business days + 2 paused days = Friday 13 Nov 10:00.
    assert c.deadline == at(2026, 11, 13, 10)


def test_done_stops_the_clock_and_reopening_resumes_it(filed, consultant, owner):
    with time_machine.travel(at(2026, 11, 10, 10), tick=False):
        for target in (Status.IN_PROGRESS, Status.DONE):
            desk.transition(ticket=filed, actor=consultant, target=target)
    c = clock(filed)
    assert c.state == SlaClock.State.MET and c.elapsed_minutes == 540
    with time_machine.travel(at(2026, 11, 11, 10), tick=False):
        desk.transition(ticket=filed, actor=consultant, target=Status.RELEASED)
    with time_machine.travel(at(2026, 11, 12, 10), tick=False):
        desk.transition(
            ticket=filed, actor=owner, target=Status.IN_PROGRESS, reason="Credit notes still fail"
        )
    c = clock(filed)
    assert c.state == SlaClock.State.RUNNING and c.stopped_at is None
    # Solved for two business days: those do not count against the desk.
    assert c.deadline == at(2026, 11, 18, 10)
    assert SlaPause.objects.get(clock=c).reason == "reopened"


def test_a_late_resolution_is_recorded_as_breached(filed, consultant):
    with time_machine.travel(at(2026, 11, 17, 10), tick=False):
        for target in (Status.IN_PROGRESS, Status.DONE):
            desk.transition(ticket=filed, actor=consultant, target=target)
    c = clock(filed)
    assert c.state == SlaClock.State.BREACHED and c.elapsed_minutes == 6 * 540


def test_critical_incidents_count_around_the_clock(owner, org):
    with time_machine.travel(at(2026, 11, 14, 22), tick=False):  # Saturday night
        t = ticket_for(owner, org, priority=Priority.CRITICAL)
    assert clock(t).deadline == at(2026, 11, 14, 22) + timedelta(hours=4)


def test_the_customer_calendar_is_used(owner, other_org, outsider):
    kyiv = ZoneInfo("Europe/Kyiv")
    with time_machine.travel(datetime(2026, 11, 9, 17, 30, tzinfo=kyiv), tick=False):
        t = ticket_for(outsider, other_org, priority=Priority.NORMAL)
    # 30 minutes on Monday in Kyiv, then 3.5 hours on Tuesday.
    assert clock(t, Metric.FIRST_RESPONSE).deadline == datetime(2026, 11, 10, 12, 30, tzinfo=kyiv)


def test_check_warns_once_and_breaches_once(filed, consultant, manager, operator):
    desk.assign(ticket=filed, actor=operator, assignee=consultant)
    assert sla.check(at(2026, 11, 9, 12)) == {"warned": 0, "breached": 0, "escalated": 0}
    # 75 % of four hours: 13:00.
    assert sla.check(at(2026, 11, 9, 13, 1))["warned"] == 1
    assert sla.check(at(2026, 11, 9, 13, 2))["warned"] == 0
    assert Notification.objects.filter(kind="warning", user=consultant).count() == 1
    filed.refresh_from_db()
    assert filed.sla_state == "warning"
    result = sla.check(at(2026, 11, 9, 14, 1))
    assert result == {"warned": 0, "breached": 1, "escalated": 1}
    assert sla.check(at(2026, 11, 9, 14, 5))["breached"] == 0
    assert set(
        Notification.objects.filter(kind="breached").values_list("user__username", flat=True)
    ) == {"consultant", "manager"}
    filed.refresh_from_db()
    assert filed.level == Level.L2 and filed.sla_state == "breached"
    assert Event.objects.filter(ticket=filed, action="sla.breached").count() == 1
    assert (
        Event.objects.filter(ticket=filed, action="desk.ticket.escalated", actor=None).count() == 1
    )


def test_paused_clocks_neither_warn_nor_breach(filed, consultant):
    with time_machine.travel(at(2026, 11, 9, 10, 30), tick=False):
        desk.transition(ticket=filed, actor=consultant, target=Status.IN_PROGRESS)
        desk.transition(ticket=filed, actor=consultant, target=Status.WAITING)
    # First response was stopped by nothing (status change does not count in reply mode)
    assert sla.check(at(2026, 11, 30, 10))["breached"] == 1  # the first-response clock only
    assert clock(filed).breached_at is None


def test_acknowledge_mode_counts_the_first_status_change(filed, consultant):
    from aftercare.sla.models import SlaPlan

    SlaPlan.objects.update(first_response=SlaPlan.FirstResponse.ACKNOWLEDGE)
    with time_machine.travel(at(2026, 11, 9, 10, 15), tick=False):
        desk.acknowledge(ticket=filed, actor=consultant)
    assert clock(filed, Metric.FIRST_RESPONSE).elapsed_minutes == 15


def test_remaining_minutes_while_running(filed):
    c = clock(filed, Metric.FIRST_RESPONSE)
    t = Ticket.objects.select_related("organisation").get(pk=filed.pk)
    assert sla.remaining_minutes(c, t, at(2026, 11, 9, 13)) == 60
