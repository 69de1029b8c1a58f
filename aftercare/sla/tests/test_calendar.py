"""Business-time arithmetic: properties (hypothesis) and hand-checked cases per country."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftercare.sla.calendar import ALWAYS_WEEK, BusinessCalendar, parse_hours

RO = BusinessCalendar("Europe/Bucharest", country="RO")
FR = BusinessCalendar("Europe/Paris", country="FR")
UA = BusinessCalendar("Europe/Kyiv", country="UA")
RU = BusinessCalendar("Europe/Moscow", country="RU")
CH = BusinessCalendar("Europe/Zurich", country="CH", subdivision="ZH")
LUNCH = BusinessCalendar(
    "Europe/Paris",
    country="FR",
    week=parse_hours({str(d): [["09:00", "12:30"], ["13:30", "18:00"]] for d in range(5)}),
)
CALENDARS = [RO, FR, UA, RU, CH, LUNCH]

# The arithmetic's resolution is one second (deadlines need no finer).
instants = st.datetimes(
    min_value=datetime(2019, 1, 1),
    max_value=datetime(2031, 12, 31),
    timezones=st.just(UTC),
).map(lambda d: d.replace(microsecond=0))
calendars = st.sampled_from(CALENDARS)
minutes = st.integers(min_value=0, max_value=60 * 24 * 90)


def local(cal, *args):
    return datetime(*args, tzinfo=ZoneInfo(cal.time_zone))


@settings(max_examples=300, deadline=None)
@given(cal=calendars, start=instants, n=minutes)
def test_adding_then_measuring_gives_back_the_same_minutes(cal, start, n):
    end = cal.add_minutes(start, n)
    assert cal.minutes_between(start, end) == n


@settings(max_examples=200, deadline=None)
@given(cal=calendars, start=instants, a=minutes, b=minutes)
def test_adding_is_monotonic_and_associative(cal, start, a, b):
    lo, hi = sorted((a, b))
    assert cal.add_minutes(start, lo) <= cal.add_minutes(start, hi)
    assert cal.add_minutes(cal.add_minutes(start, a), b) == cal.add_minutes(start, a + b) or (
        # Adding 0 business minutes to a closing instant may roll to the next opening;
        # both are the same business moment.
        cal.minutes_between(
            cal.add_minutes(start, a + b), cal.add_minutes(cal.add_minutes(start, a), b)
        )
        == 0
    )


@settings(max_examples=200, deadline=None)
@given(cal=calendars, a=instants, b=instants, c=instants)
def test_measuring_adds_up_across_a_midpoint(cal, a, b, c):
    a, b, c = sorted((a, b, c))
    assert cal.seconds_between(a, c) == cal.seconds_between(a, b) + cal.seconds_between(b, c)
    assert 0 <= cal.seconds_between(a, c) <= (c - a).total_seconds()


@settings(max_examples=200, deadline=None)
@given(cal=calendars, start=instants)
def test_an_instant_outside_hours_rolls_to_the_next_opening(cal, start):
    rolled = cal.add_minutes(start, 0)
    assert rolled >= start
    assert cal.seconds_between(start, rolled) == 0
    assert cal.is_open(rolled) or rolled == start
    if not cal.is_open(start):
        assert cal.is_open(rolled)


@settings(max_examples=100, deadline=None)
@given(start=instants, n=minutes)
def test_a_24x7_calendar_is_plain_arithmetic(start, n):
    cal = BusinessCalendar("Europe/Kyiv", week=ALWAYS_WEEK)
    assert cal.add_minutes(start, n) == start + timedelta(minutes=n)


def test_nine_hours_from_monday_morning_end_at_closing_time():
    assert RO.add_minutes(local(RO, 2026, 11, 23, 9), 540) == local(RO, 2026, 11, 23, 18)
    assert RO.add_minutes(local(RO, 2026, 11, 23, 9), 541) == local(RO, 2026, 11, 24, 9, 1)


def test_romania_skips_saint_andrew_and_national_day():
    # Fri 27 Nov 2026 17:00 + 2 h: one hour on Friday, Mon 30 Nov and Tue 1 Dec are holidays.
    assert RO.add_minutes(local(RO, 2026, 11, 27, 17), 120) == local(RO, 2026, 12, 2, 10)


def test_romania_orthodox_easter_monday_is_off():
    # Orthodox Easter 2026 is 12 April: Good Friday 10 April and Easter Monday 13 April off.
    assert RO.add_minutes(local(RO, 2026, 4, 9, 17), 120) == local(RO, 2026, 4, 14, 10)


def test_france_skips_armistice_day():
    # Wed 11 Nov 2026 is a public holiday.
    assert FR.add_minutes(local(FR, 2026, 11, 10, 17), 120) == local(FR, 2026, 11, 12, 10)


def test_france_dst_end_keeps_local_opening_hours():
    # Clocks go back on Sun 25 Oct 2026; Friday 17:00 + 2 h is Monday 10:00 local (CET).
    end = FR.add_minutes(local(FR, 2026, 10, 23, 17), 120)
    assert end == local(FR, 2026, 10, 26, 10)
    assert end.astimezone(UTC).hour == 9  # UTC+1 after the switch


def test_russia_new_year_holidays():
    # 1-8 January are off in Russia (2026: holidays through 11 Jan by transfer).
    end = RU.add_minutes(local(RU, 2025, 12, 31, 17), 60)
    assert end.astimezone(ZoneInfo("Europe/Moscow")).date() >= date(2026, 1, 9)


def test_ukraine_christmas_before_martial_law():
    # In 2021, 7 January (Orthodox Christmas) was off, and 8 January too (moved from the
    # Saturday 16 January): Wednesday 17:00 + 2 h is Monday 11 January 10:00.
    assert UA.add_minutes(local(UA, 2021, 1, 6, 17), 120) == local(UA, 2021, 1, 11, 10)


def test_ukraine_has_no_public_holidays_under_martial_law():
    # Since 2022 public holidays are suspended; 1 January 2026 is a working Thursday.
    assert UA.add_minutes(local(UA, 2025, 12, 31, 17), 120) == local(UA, 2026, 1, 1, 10)


def test_ukraine_dst_start():
    # Clocks go forward on Sun 29 Mar 2026: Friday 17:00 + 2 h is Monday 10:00 EEST.
    end = UA.add_minutes(local(UA, 2026, 3, 27, 17), 120)
    assert end == local(UA, 2026, 3, 30, 10)
    assert end.astimezone(UTC).hour == 7


def test_switzerland_zurich_easter_and_ascension():
    # Good Friday 3 April and Easter Monday 6 April 2026 are off in Zurich.
    assert CH.add_minutes(local(CH, 2026, 4, 2, 17), 120) == local(CH, 2026, 4, 7, 10)
    # Ascension, Thursday 14 May 2026.
    assert CH.add_minutes(local(CH, 2026, 5, 13, 18), 60) == local(CH, 2026, 5, 15, 10)


def test_year_end_spans_and_long_targets():
    start = local(RO, 2026, 12, 30, 9)
    # 30 and 31 Dec are working days; 1-2 Jan off (2 Jan 2027 is Saturday anyway).
    assert RO.add_minutes(start, 2 * 540) == local(RO, 2026, 12, 31, 18)
    assert RO.add_minutes(start, 2 * 540 + 1) == local(RO, 2027, 1, 4, 9, 1)


def test_lunch_break_is_not_business_time():
    cal = LUNCH
    assert cal.add_minutes(local(cal, 2026, 11, 23, 12), 60) == local(cal, 2026, 11, 23, 14)
    assert cal.minutes_between(local(cal, 2026, 11, 23, 12), local(cal, 2026, 11, 23, 14)) == 60


def test_extra_working_day_and_extra_day_off():
    cal = BusinessCalendar(
        "Europe/Bucharest",
        country="RO",
        days_off=frozenset({date(2026, 11, 24)}),
        extra_working={date(2026, 11, 28): ((540, 780),)},  # Saturday morning worked
    )
    # Mon 23 Nov 17:00 + 2 h: 1 h Monday, Tuesday off, Wednesday 10:00.
    assert cal.add_minutes(local(cal, 2026, 11, 23, 17), 120) == local(cal, 2026, 11, 25, 10)
    # Fri 27 Nov 17:30 + 1 h: 30 min Friday, then Saturday 09:30.
    assert cal.add_minutes(local(cal, 2026, 11, 27, 17, 30), 60) == local(cal, 2026, 11, 28, 9, 30)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        RO.add_minutes(datetime(2026, 1, 1, 9), 10)


def test_bad_hours_are_refused():
    with pytest.raises(ValueError):
        parse_hours({"0": [["18:00", "09:00"]]})
    with pytest.raises(ValueError):
        parse_hours({"0": [["09:00", "13:00"], ["12:00", "18:00"]]})


def test_a_calendar_with_no_hours_says_so():
    empty = BusinessCalendar("UTC", week=((),) * 7)
    with pytest.raises(ValueError, match="no opening hours"):
        empty.add_minutes(datetime(2026, 1, 1, tzinfo=UTC), 1)
