"""Hand-computed months. Every expected number below is worked out in the comment
above it, not by the code under test."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from aftercare.availability import reports
from aftercare.availability.models import Downtime
from aftercare.lifecycle.models import Environment
from aftercare.lifecycle.tests.factories import landscape
from aftercare.tenancy.models import Contract

BUC = ZoneInfo("Europe/Bucharest")
H = 3600
LATER = datetime(2027, 6, 1, tzinfo=UTC)  # "now" after every month below


def local(*args) -> datetime:
    return datetime(*args, tzinfo=BUC)


@pytest.fixture
def land(org):
    data = landscape(org)
    contract = data["contract"]
    contract.support_hours = Contract.SupportHours.ALWAYS
    contract.availability_target = Decimal("99.50")
    contract.save()
    return data


def down(env, start, end, planned=False, **kwargs) -> Downtime:
    return Downtime.objects.create(
        environment=env, started_at=start, ended_at=end, planned=planned, cause="x", **kwargs
    )


def one(org, env, month, now=LATER):
    report = reports.build(org, month, [env], now=now, history=2)
    return report, report.environments[0].current


def test_24x7_january_has_744_hours(org, land):
    prod = land["production"]
    # 2 h 30 min unplanned on 10 January: 9000 s of 31 * 24 h = 2 678 400 s.
    down(prod, local(2026, 1, 10, 10, 0), local(2026, 1, 10, 12, 30))
    report, fig = one(org, prod, date(2026, 1, 1))
    assert fig.service_seconds == 744 * H
    assert fig.unplanned_seconds == 9000
    # 1 - 9000 / 2 678 400 = 0.996639784... -> 99.663 % (rounded down)
    assert fig.availability == Decimal("99.663")
    assert fig.met is True
    assert report.contracts[0].current.availability == Decimal("99.663")


def test_24x7_march_with_spring_forward_has_743_hours(org, land):
    prod = land["production"]
    # 29 March 2026, 02:30 EET (00:30 UTC) to 04:30 EEST (01:30 UTC): one real hour,
    # though the wall clock says two (03:00-04:00 does not exist that night).
    down(prod, local(2026, 3, 29, 2, 30), local(2026, 3, 29, 4, 30))
    _report, fig = one(org, prod, date(2026, 3, 1))
    assert fig.service_seconds == 743 * H
    assert fig.unplanned_seconds == 1 * H
    assert fig.downtime_seconds == 1 * H
    # 1 - 1/743 = 0.998654104... -> 99.865 %
    assert fig.availability == Decimal("99.865")


def test_24x7_october_with_fall_back_has_745_hours(org, land):
    prod = land["production"]
    # 25 October 2026, 02:30 EEST (24 Oct 23:30 UTC) to 04:30 EET (02:30 UTC): three real
    # hours (03:00-04:00 happens twice).
    down(prod, local(2026, 10, 25, 2, 30), local(2026, 10, 25, 4, 30))
    _report, fig = one(org, prod, date(2026, 10, 1))
    assert fig.service_seconds == 745 * H
    assert fig.unplanned_seconds == 3 * H
    # 1 - 3/745 = 0.995973154... -> 99.597 %, target 99.50 met
    assert fig.availability == Decimal("99.597")
    assert fig.met is True


def test_business_hours_may_with_labour_day(org, land):
    contract = land["contract"]
    contract.support_hours = Contract.SupportHours.BUSINESS
    contract.save()
    prod = land["production"]
    # May 2026 (RO): 21 weekdays, 1 May (Friday) is Labour Day -> 20 days * 9 h = 180 h.
    # Friday 8 May 17:00 to Monday 11 May 10:00: Fri 17-18 + Mon 09-10 = 2 h in hours.
    down(prod, local(2026, 5, 8, 17, 0), local(2026, 5, 11, 10, 0))
    # On the holiday itself: no service time, so nothing counts.
    down(prod, local(2026, 5, 1, 10, 0), local(2026, 5, 1, 12, 0))
    _report, fig = one(org, prod, date(2026, 5, 1))
    assert fig.service_seconds == 180 * H
    assert fig.unplanned_seconds == 2 * H
    assert fig.downtime_seconds == (65 + 2) * H
    # 1 - 2/180 = 0.98888... -> 98.888 %, target 99.50 missed
    assert fig.availability == Decimal("98.888")
    assert fig.met is False
    # The target allows 0.5 % of 180 h = 54 min.
    assert fig.allowed_minutes == 54


def test_planned_downtime_is_reported_but_not_counted(org, land):
    prod = land["production"]
    # April 2026: 30 days * 24 h = 720 h. Planned 01:00-04:00 on 5 April; an unplanned
    # 03:30-04:30 overlaps it: unplanned 1 h; planned 2 h 30 min (the overlap counts once,
    # as unplanned).
    down(prod, local(2026, 4, 5, 1, 0), local(2026, 4, 5, 4, 0), planned=True)
    down(prod, local(2026, 4, 5, 3, 30), local(2026, 4, 5, 4, 30))
    _report, fig = one(org, prod, date(2026, 4, 1))
    assert fig.service_seconds == 720 * H
    assert fig.unplanned_seconds == 1 * H
    assert fig.planned_seconds == int(2.5 * H)
    assert fig.downtime_seconds == int(3.5 * H)
    # 1 - 1/720 = 0.998611... -> 99.861 %
    assert fig.availability == Decimal("99.861")


def test_overlapping_alert_downtimes_count_once(org, land):
    prod = land["production"]
    down(prod, local(2026, 4, 5, 10, 0), local(2026, 4, 5, 12, 0), fingerprint="db")
    down(prod, local(2026, 4, 5, 11, 0), local(2026, 4, 5, 13, 0), fingerprint="web")
    _report, fig = one(org, prod, date(2026, 4, 1))
    assert fig.unplanned_seconds == 3 * H


def test_downtime_across_a_month_border_is_split(org, land):
    prod = land["production"]
    # 31 January 22:00 to 1 February 03:00 local: 2 h in January, 3 h in February.
    down(prod, local(2026, 1, 31, 22, 0), local(2026, 2, 1, 3, 0))
    report = reports.build(org, date(2026, 2, 1), [prod], now=LATER, history=2)
    january, february = report.environments[0].months
    assert january.month == date(2026, 1, 1) and january.unplanned_seconds == 2 * H
    assert february.service_seconds == 28 * 24 * H
    assert february.unplanned_seconds == 3 * H
    # The record shows in both months' lists.
    assert len(report.downtimes) == 1
    earlier = reports.build(org, date(2026, 1, 1), [prod], now=LATER, history=1)
    assert len(earlier.downtimes) == 1


def test_ongoing_downtime_counts_up_to_now(org, land):
    prod = land["production"]
    now = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
    down(prod, datetime(2026, 3, 15, 10, 0, tzinfo=UTC), None)
    _report, fig = one(org, prod, date(2026, 3, 1), now=now)
    # 1 March 00:00 EET = 28 Feb 22:00 UTC; to 15 March 12:00 UTC = 14 d 14 h = 350 h.
    assert fig.partial is True
    assert fig.service_seconds == 350 * H
    assert fig.unplanned_seconds == 2 * H
    # A month in the future is not measured.
    _report, future = one(org, prod, date(2026, 4, 1), now=now)
    assert future.measured is False and future.availability is None and future.met is None


def test_contract_sums_its_production_environments(org, land):
    prod = land["production"]
    second = Environment.objects.create(
        system=land["system"], kind=Environment.Kind.PRODUCTION, name="Production EU"
    )
    test_env = land["test"]
    # June 2026: 720 h each. 3 h on one, 1 h on the other, 50 h on test (not counted).
    down(prod, local(2026, 6, 2, 10, 0), local(2026, 6, 2, 13, 0))
    down(second, local(2026, 6, 3, 10, 0), local(2026, 6, 3, 11, 0))
    down(test_env, local(2026, 6, 4, 0, 0), local(2026, 6, 6, 2, 0))
    report = reports.build(org, date(2026, 6, 1), [prod, second, test_env], now=LATER, history=1)
    (contract,) = report.contracts
    assert [e.environment for e in contract.environments] == [prod, second]
    fig = contract.current
    assert fig.service_seconds == 2 * 720 * H
    assert fig.unplanned_seconds == 4 * H
    # 1 - 4/1440 = 0.997222... -> 99.722 %
    assert fig.availability == Decimal("99.722")
    by_env = {r.environment.pk: r.current for r in report.environments}
    assert by_env[test_env.pk].unplanned_seconds == 50 * H
    assert by_env[test_env.pk].target is None


def test_contract_starting_mid_month_counts_from_its_start(org, land):
    contract = land["contract"]
    contract.starts_on = date(2026, 6, 16)
    contract.save()
    prod = land["production"]
    down(prod, local(2026, 6, 10, 0, 0), local(2026, 6, 10, 5, 0))  # before the contract
    _report, fig = one(org, prod, date(2026, 6, 1))
    assert fig.service_seconds == 15 * 24 * H
    assert fig.unplanned_seconds == 0


def test_target_exactly_met_and_just_missed(org, land):
    prod = land["production"]
    # April: 720 h; 99.50 % allows 0.5 % = 3.6 h = 12 960 s.
    row = down(prod, local(2026, 4, 1, 10, 0), local(2026, 4, 1, 10, 0) + timedelta(seconds=12960))
    assert one(org, prod, date(2026, 4, 1))[1].met is True
    row.ended_at += timedelta(seconds=1)
    row.save()
    fig = one(org, prod, date(2026, 4, 1))[1]
    assert fig.met is False
    assert fig.availability == Decimal("99.499")


def test_parse_month():
    default = date(2026, 1, 1)
    assert reports.parse_month("2026-03", default) == date(2026, 3, 1)
    for bad in ("", None, "2026-13", "x", "1-1", "99999-01", "2026-03-01"):
        assert reports.parse_month(bad, default) == default
    assert reports.last_months(date(2026, 2, 1), 3) == [
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]


def test_the_worked_example_of_the_docs_on_a_24x7_contract(org, land):
    prod = land["production"]
    down(prod, local(2026, 5, 8, 17, 0), local(2026, 5, 11, 10, 0))
    down(prod, local(2026, 5, 1, 10, 0), local(2026, 5, 1, 12, 0))
    _report, fig = one(org, prod, date(2026, 5, 1))
    assert fig.service_seconds == 744 * H
    assert fig.unplanned_seconds == 67 * H
    assert fig.availability == Decimal("90.994")


def test_business_hours_follow_the_contracts_sla_calendar(org, land):
    from aftercare.sla.models import Calendar, SlaPlan

    week = {str(d): [["08:00", "16:00"]] for d in range(5)}
    calendar = Calendar.objects.create(
        name="Early shift", time_zone="Europe/Bucharest", country="RO", hours=week
    )
    contract = land["contract"]
    contract.support_hours = Contract.SupportHours.BUSINESS
    contract.sla_plan = SlaPlan.objects.create(name="Early", calendar=calendar)
    contract.save()
    prod = land["production"]
    # May 2026: 20 working days (1 May off) * 8 h = 160 h. Down Mon 4 May 15:00-17:00:
    # only 15:00-16:00 is inside the calendar's hours.
    down(prod, local(2026, 5, 4, 15, 0), local(2026, 5, 4, 17, 0))
    _report, fig = one(org, prod, date(2026, 5, 1))
    assert fig.service_seconds == 160 * H
    assert fig.unplanned_seconds == 1 * H
    # 1 - 1/160 = 0.99375 -> 99.375 %
    assert fig.availability == Decimal("99.375")
