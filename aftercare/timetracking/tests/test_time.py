"""Recording time: the duration parser, the limits, who may record and correct, the audit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from aftercare.accounts.roles import Role
from aftercare.desk import services as desk_services
from aftercare.desk.models import Event, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.ops import maintenance
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import ContractFactory, staff
from aftercare.timetracking import reports, services
from aftercare.timetracking.models import TimeEntry

pytestmark = pytest.mark.django_db


# -- parse_duration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("1h 30m", 90),
        ("90", 90),
        ("1:30", 90),
        ("1,5h", 90),
        ("1.5h", 90),
        ("45m", 45),
        ("45 min", 45),
        ("2h", 120),
        ("1h30", 90),
        ("1H 05M", 65),
        ("  3 hours 10 minutes ", 190),
        ("0:45", 45),
        ("24h", 1440),
        ("0,25 h", 15),
    ],
)
def test_it_parses_what_people_type(text, minutes):
    assert services.parse_duration(text) == minutes


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "1:75",
        "h",
        "30m 1h",
        "1h 1h",
        "1,5",
        "1.5m",
        "ten minutes",
        "1h-30m",
        "-5",
    ],
)
def test_it_refuses_what_is_not_a_duration_with_a_clear_message(text):
    with pytest.raises(ValidationError) as exc:
        services.parse_duration(text)
    assert any("30m" in m or "1h 15m" in m or "45m" in m for m in exc.value.messages)


@pytest.mark.parametrize(("minutes", "ok"), [(0, False), (1, True), (1440, True), (1441, False)])
def test_it_keeps_one_entry_between_a_minute_and_a_day(minutes, ok):
    if ok:
        assert services.check_minutes(minutes) == minutes
    else:
        with pytest.raises(ValidationError) as exc:
            services.check_minutes(minutes)
        assert "minutes" in exc.value.message_dict


def test_hours_are_shown_as_hours_and_minutes_and_as_decimals():
    assert reports.hours_minutes(90) == "1:30"
    assert reports.hours_minutes(1500) == "25:00"
    assert reports.decimal_hours(45) == "0.75"
    assert reports.decimal_hours(100) == "1.67"


# -- record -----------------------------------------------------------------------------


@pytest.fixture
def contract(org):
    return ContractFactory(organisation=org, number="ALPHA-2026")


@pytest.fixture
def contracted_ticket(owner, org, contract):
    return ticket_for(owner, org)


def test_it_records_time_with_the_reply_and_copies_the_contract(contracted_ticket, operator):
    message = desk_services.reply(ticket=contracted_ticket, actor=operator, body="Fixed.")
    entry = services.record(
        ticket=contracted_ticket, actor=operator, minutes="1h 15m", message=message
    )
    assert entry.minutes == 75
    assert entry.contract.number == "ALPHA-2026"
    assert entry.organisation_id == contracted_ticket.organisation_id
    assert entry.message_id == message.pk
    assert entry.spent_on == timezone.localdate()
    event = Event.objects.get(ticket=contracted_ticket, action="time.recorded")
    assert event.is_internal and event.actor == operator and event.new == "75"


def test_the_contract_stays_when_the_request_changes_contract_later(
    contracted_ticket, operator, org
):
    entry = services.record(ticket=contracted_ticket, actor=operator, minutes=30)
    newer = ContractFactory(organisation=org, number="ALPHA-2027")
    Ticket.objects.filter(pk=contracted_ticket.pk).update(contract=newer)
    entry.refresh_from_db()
    assert entry.contract.number == "ALPHA-2026"
    later = services.record(ticket=contracted_ticket, actor=operator, minutes=10)
    assert later.contract.number == "ALPHA-2027"


def test_the_time_event_is_staff_history_only(contracted_ticket, operator, owner):
    from aftercare.accounts.roles import PermSet
    from aftercare.desk.timeline import build_timeline

    services.record(ticket=contracted_ticket, actor=operator, minutes=20, note="call")
    staff_view = [
        e for e in build_timeline(PermSet(operator), contracted_ticket) if e.kind == "event"
    ]
    assert any(e.obj.action == "time.recorded" and "time spent" in e.text for e in staff_view)
    customer_view = build_timeline(PermSet(owner), contracted_ticket)
    assert not any(getattr(e.obj, "action", "").startswith("time.") for e in customer_view)


@pytest.mark.parametrize("minutes", [0, 1441, "0m", "25h", "soon"])
def test_it_refuses_out_of_range_or_unreadable_minutes(contracted_ticket, operator, minutes):
    with pytest.raises(ValidationError) as exc:
        services.record(ticket=contracted_ticket, actor=operator, minutes=minutes)
    assert "minutes" in exc.value.message_dict
    assert not TimeEntry.objects.exists()
    assert not Event.objects.filter(action="time.recorded").exists()


def test_it_refuses_a_day_in_the_future(contracted_ticket, operator):
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(ValidationError) as exc:
        services.record(ticket=contracted_ticket, actor=operator, minutes=5, spent_on=tomorrow)
    assert "spent_on" in exc.value.message_dict
    yesterday = services.record(
        ticket=contracted_ticket,
        actor=operator,
        minutes=5,
        spent_on=timezone.localdate() - timedelta(days=1),
    )
    assert yesterday.pk


def test_it_refuses_a_message_of_another_request(contracted_ticket, operator, owner, org):
    other = ticket_for(owner, org, subject="Another one")
    message = desk_services.reply(ticket=other, actor=operator, body="Elsewhere")
    with pytest.raises(ValidationError):
        services.record(ticket=contracted_ticket, actor=operator, minutes=5, message=message)


@pytest.mark.parametrize("who", ["owner", "coordinator", "outsider"])
def test_customers_never_record_time(contracted_ticket, request, who):
    person = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        services.record(ticket=contracted_ticket, actor=person, minutes=10)
    assert not TimeEntry.objects.exists()


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.MANAGER, Role.ADMIN])
def test_an_agent_restricted_to_other_organisations_records_nothing(
    contracted_ticket, other_org, role
):
    agent = staff(role, username=f"restricted-{role}")
    AgentRestriction.objects.create(user=agent, organisation=other_org)
    with pytest.raises(PermissionDenied):
        services.record(ticket=contracted_ticket, actor=agent, minutes=10)
    assert not TimeEntry.objects.exists()


def test_nothing_is_recorded_in_maintenance_mode(contracted_ticket, operator):
    maintenance.switch(True, message="Upgrade", by="tests")
    try:
        with pytest.raises(maintenance.MaintenanceError):
            services.record(ticket=contracted_ticket, actor=operator, minutes=10)
    finally:
        maintenance.switch(False, by="tests")
    assert not TimeEntry.objects.exists()


# -- update and delete ------------------------------------------------------------------


def test_an_agent_corrects_their_own_entry_and_it_is_audited(contracted_ticket, operator):
    entry = services.record(ticket=contracted_ticket, actor=operator, minutes=30)
    services.update(
        entry=entry, actor=operator, minutes="45m", spent_on=date(2026, 1, 5), note="call"
    )
    entry.refresh_from_db()
    assert (entry.minutes, entry.spent_on, entry.note) == (45, date(2026, 1, 5), "call")
    event = Event.objects.get(action="time.changed")
    assert (event.old, event.new, event.is_internal) == ("30", "45", True)
    assert "2026-01-05" in event.note


def test_an_agent_may_not_correct_or_delete_a_colleagues_entry(
    contracted_ticket, operator, consultant
):
    entry = services.record(ticket=contracted_ticket, actor=operator, minutes=30)
    with pytest.raises(PermissionDenied):
        services.update(entry=entry, actor=consultant, minutes=10)
    with pytest.raises(PermissionDenied):
        services.delete(entry=entry, actor=consultant)
    entry.refresh_from_db()
    assert entry.minutes == 30


def test_a_manager_corrects_and_deletes_anyones_entry(contracted_ticket, operator, manager):
    entry = services.record(ticket=contracted_ticket, actor=operator, minutes=30)
    services.update(entry=entry, actor=manager, minutes=20)
    changed = Event.objects.get(action="time.changed")
    assert changed.actor == manager and operator.display_name in changed.note
    services.delete(entry=entry, actor=manager)
    assert not TimeEntry.objects.exists()
    deleted = Event.objects.get(action="time.deleted")
    assert (deleted.old, deleted.actor, deleted.is_internal) == ("20", manager, True)


def test_a_restricted_manager_may_not_touch_entries_of_other_organisations(
    contracted_ticket, operator, other_org
):
    entry = services.record(ticket=contracted_ticket, actor=operator, minutes=30)
    boss = staff(Role.MANAGER, username="beta-boss")
    AgentRestriction.objects.create(user=boss, organisation=other_org)
    with pytest.raises(PermissionDenied):
        services.update(entry=entry, actor=boss, minutes=1)
    with pytest.raises(PermissionDenied):
        services.delete(entry=entry, actor=boss)
    assert TimeEntry.objects.get().minutes == 30


def test_an_update_refuses_bad_values_and_keeps_the_entry(contracted_ticket, operator):
    entry = services.record(ticket=contracted_ticket, actor=operator, minutes=30)
    with pytest.raises(ValidationError):
        services.update(entry=entry, actor=operator, minutes=2000)
    with pytest.raises(ValidationError):
        services.update(
            entry=entry, actor=operator, spent_on=timezone.localdate() + timedelta(days=2)
        )
    entry.refresh_from_db()
    assert entry.minutes == 30
    assert not Event.objects.filter(action="time.changed").exists()


def test_corrections_are_refused_in_maintenance_mode(contracted_ticket, operator):
    entry = services.record(ticket=contracted_ticket, actor=operator, minutes=30)
    maintenance.switch(True, by="tests")
    try:
        with pytest.raises(maintenance.MaintenanceError):
            services.update(entry=entry, actor=operator, minutes=10)
        with pytest.raises(maintenance.MaintenanceError):
            services.delete(entry=entry, actor=operator)
    finally:
        maintenance.switch(False, by="tests")
    assert TimeEntry.objects.get().minutes == 30


# -- totals -----------------------------------------------------------------------------


def test_totals_add_up_per_contract_and_month(owner, org, operator, consultant, contract):
    first = ticket_for(owner, org, subject="One")
    second = ticket_for(owner, org, subject="Two")
    services.record(ticket=first, actor=operator, minutes=45, spent_on=date(2026, 3, 2))
    services.record(ticket=second, actor=consultant, minutes=90, spent_on=date(2026, 3, 31))
    services.record(ticket=first, actor=operator, minutes=15, spent_on=date(2026, 4, 1))
    report = reports.build(TimeEntry.objects.all(), date(2026, 3, 1), date(2026, 4, 1))
    rows = {(r["contract__number"], r["month_label"]): r for r in report.by_contract_month}
    assert rows[("ALPHA-2026", "2026-03")]["minutes"] == 135
    assert rows[("ALPHA-2026", "2026-03")]["requests"] == 2
    assert rows[("ALPHA-2026", "2026-03")]["hm"] == "2:15"
    assert rows[("ALPHA-2026", "2026-03")]["decimal"] == "2.25"
    assert rows[("ALPHA-2026", "2026-04")]["minutes"] == 15
    assert report.total == 150
    march_only = reports.build(TimeEntry.objects.all(), date(2026, 3, 1), date(2026, 3, 1))
    assert march_only.total == 135
    summary = reports.ticket_summary(first.pk)
    assert summary["total"].minutes == 60 and summary["total"].entries == 2
