"""Business-time arithmetic: pure, exact across DST and holidays, O(log n) per call.

A ``BusinessCalendar`` turns its rules (weekly hours in a local time zone, public
holidays of a country, extra days off and extra working days) into a sorted array of
opening intervals in UTC epoch seconds, with a running total of open seconds before each
interval. Then

* ``seconds_between(a, b)`` is ``open_before(b) - open_before(a)``: two binary searches;
* ``add_seconds(t, n)`` finds the interval where the running total reaches
  ``open_before(t) + n``: one more binary search.

Instants have a resolution of one second (sub-second parts are dropped). Neither walks
the span day by day, so a deadline three months away costs what one an
hour away costs. Intervals are built a year at a time, on demand, and a calendar object
is immutable once built for a range, so one instance can be shared by a whole process.
Holidays are *local dates* in the calendar's zone (zammad#3706: holidays shifted by one
day when computed in UTC).

This module never touches the database; ``sla.services`` builds calendars from rows.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[int, int]  # local minutes from midnight: [start, end)

DEFAULT_WEEK: tuple[tuple[Interval, ...], ...] = (
    ((540, 1080),),  # Monday 09:00-18:00
    ((540, 1080),),
    ((540, 1080),),
    ((540, 1080),),
    ((540, 1080),),  # Friday
    (),  # Saturday
    (),  # Sunday
)
ALWAYS_WEEK: tuple[tuple[Interval, ...], ...] = tuple(((0, 1440),) for _ in range(7))


def parse_hours(spec: Mapping[str, Sequence[Sequence[str]]] | None) -> tuple:
    """``{"0": [["09:00", "13:00"], ["14:00", "18:00"]], ...}`` (0 = Monday) -> week."""
    if not spec:
        return DEFAULT_WEEK
    week = []
    for day in range(7):
        intervals = []
        for start, end in spec.get(str(day), ()) or ():
            s, e = _minutes(start), _minutes(end)
            if not 0 <= s < e <= 1440:
                raise ValueError(f"bad interval {start}-{end} on day {day}")
            intervals.append((s, e))
        intervals.sort()
        for (_s1, e1), (s2, _e2) in zip(intervals, intervals[1:], strict=False):
            if s2 < e1:
                raise ValueError(f"overlapping intervals on day {day}")
        week.append(tuple(intervals))
    return tuple(week)


def _minutes(text: str) -> int:
    hours, _, minutes = str(text).partition(":")
    value = int(hours) * 60 + int(minutes or 0)
    if not 0 <= value <= 1440:
        raise ValueError(f"bad time {text!r}")
    return value


def _epoch(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: business-time arithmetic needs aware instants")
    return int(dt.timestamp())


@dataclass
class BusinessCalendar:
    time_zone: str = "UTC"
    week: tuple[tuple[Interval, ...], ...] = DEFAULT_WEEK
    country: str = ""
    subdivision: str = ""
    days_off: frozenset[date] = frozenset()
    extra_working: Mapping[date, tuple[Interval, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.zone = ZoneInfo(self.time_zone)
        self._lock = threading.Lock()
        self._years: tuple[int, int] | None = None
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._before: list[int] = []  # open seconds before interval i
        self._cum_end: list[int] = []  # open seconds up to the end of interval i
        self.always_open = self.week == ALWAYS_WEEK and not self.days_off and not self.country

    # -- building ------------------------------------------------------------------
    def holidays_in(self, years: Iterable[int]) -> set[date]:
        days = set(self.days_off)
        if self.country:
            import holidays as holidays_lib

            days.update(
                holidays_lib.country_holidays(
                    self.country, subdiv=self.subdivision or None, years=list(years)
                ).keys()
            )
        return days

    def _intervals_for(self, first: int, last: int) -> list[tuple[int, int]]:
        off = self.holidays_in(range(first, last + 1))
        out: list[tuple[int, int]] = []
        day = date(first, 1, 1)
        end = date(last, 12, 31)
        while day <= end:
            if day in self.extra_working:
                local = self.extra_working[day]
            elif day in off:
                local = ()
            else:
                local = self.week[day.weekday()]
            for s, e in local:
                start = self._instant(day, s)
                stop = self._instant(day, e)
                if stop > start:
                    if out and out[-1][1] >= start:  # touching intervals (e.g. 24x7) merge
                        out[-1] = (out[-1][0], max(out[-1][1], stop))
                    else:
                        out.append((start, stop))
            day += timedelta(days=1)
        return out

    def _instant(self, day: date, minute: int) -> int:
        if minute >= 1440:
            return _epoch(datetime.combine(day + timedelta(days=1), time(0), self.zone))
        local = datetime.combine(day, time(minute // 60, minute % 60), self.zone)
        # A wall time inside a spring-forward gap does not exist; zoneinfo maps it forward
        # by the gap (fold=0), which is the opening time people observe that day.
        return _epoch(local)

    def _ensure(self, *instants: int) -> None:
        years = [datetime.fromtimestamp(t, UTC).year for t in instants]
        lo, hi = min(years) - 1, max(years) + 1
        if self._years and self._years[0] <= lo and hi <= self._years[1]:
            return
        with self._lock:
            if self._years:
                lo, hi = min(lo, self._years[0]), max(hi, self._years[1])
            intervals = self._intervals_for(lo, hi)
            starts, ends, before, cum_end, total = [], [], [], [], 0
            for s, e in intervals:
                starts.append(s)
                ends.append(e)
                before.append(total)
                total += e - s
                cum_end.append(total)
            self._starts, self._ends, self._before = starts, ends, before
            self._cum_end = cum_end
            self._years = (lo, hi)

    # -- arithmetic ------------------------------------------------------------------
    def _open_before(self, t: int) -> int:
        """Open seconds in the calendar's range before instant ``t``."""
        i = bisect.bisect_right(self._starts, t) - 1
        if i < 0:
            return 0
        return self._before[i] + min(t, self._ends[i]) - self._starts[i]

    def seconds_between(self, a: datetime, b: datetime) -> int:
        """Open seconds in [a, b); negative if b is before a."""
        ta, tb = _epoch(a), _epoch(b)
        if self.always_open:
            return tb - ta
        self._ensure(ta, tb)
        return self._open_before(tb) - self._open_before(ta)

    def add_seconds(self, start: datetime, seconds: int) -> datetime:
        """The instant when ``seconds`` of open time have passed since ``start``.

        Adding 0 to an instant outside hours rolls it to the next opening; a result that
        lands exactly on a closing time stays there (9 h from Monday 09:00 is 18:00).
        """
        if seconds < 0:
            raise ValueError("cannot add negative business time")
        t = _epoch(start)
        if self.always_open:
            return datetime.fromtimestamp(t + seconds, UTC)
        self._ensure(t)
        horizon = datetime.fromtimestamp(t, UTC).year + 50
        while True:
            if seconds == 0:
                i = bisect.bisect_right(self._starts, t) - 1
                if i >= 0 and t < self._ends[i]:
                    return datetime.fromtimestamp(t, UTC)
                j = i + 1
                if j < len(self._starts):
                    return datetime.fromtimestamp(self._starts[j], UTC)
            else:
                target = self._open_before(t) + seconds
                j = bisect.bisect_left(self._cum_end, target)
                if j < len(self._starts):
                    return datetime.fromtimestamp(self._starts[j] + (target - self._before[j]), UTC)
            # Past the built range: extend it and look again.
            if self._years is None or self._years[1] > horizon:
                raise ValueError("the calendar has no opening hours in the next 50 years")
            self._ensure(t, _epoch(datetime(self._years[1] + 3, 1, 1, tzinfo=UTC)))

    def add_minutes(self, start: datetime, minutes: float) -> datetime:
        return self.add_seconds(start, round(minutes * 60))

    def minutes_between(self, a: datetime, b: datetime) -> float:
        return self.seconds_between(a, b) / 60

    def is_open(self, at: datetime) -> bool:
        t = _epoch(at)
        if self.always_open:
            return True
        self._ensure(t)
        i = bisect.bisect_right(self._starts, t) - 1
        return i >= 0 and t < self._ends[i]

    def next_opening(self, at: datetime) -> datetime:
        return self.add_seconds(at, 0)
