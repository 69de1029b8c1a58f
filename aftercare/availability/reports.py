"""Monthly availability: pure interval arithmetic over ``Downtime`` rows.

For one environment and one calendar month (in the organisation's time zone):

    service time  = open seconds of the service calendar in the month
    unplanned     = open seconds covered by the union of unplanned downtimes
    planned       = open seconds covered by planned downtimes and no unplanned one
    availability  = 1 - unplanned / service time

The service calendar is the contract's support hours: 24x7, or business hours on the
SLA calendar the contract's requests use (its SLA plan's calendar, else the default
plan's, else Mon-Fri 09:00-18:00 in the organisation's zone with its country's public
holidays off) -- the same ``sla.calendar.BusinessCalendar`` the SLA clocks run on, so
DST, holidays and month borders are counted exactly once and the same way everywhere.

A contract's availability sums its production environments: the unplanned seconds of
all of them over their service seconds (each environment weighs by its service time).
A month still running is measured up to now; an ongoing downtime counts up to now.
Nothing here writes; the figures are recomputed from the records each time, so a
corrected record corrects every report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from aftercare.availability.models import Downtime
from aftercare.lifecycle.models import Environment
from aftercare.sla.calendar import ALWAYS_WEEK, BusinessCalendar
from aftercare.tenancy.models import Contract, Organisation

Span = tuple[datetime, datetime]


# -- months ---------------------------------------------------------------------------


def month_start(month: date) -> date:
    return month.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def previous_month(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def month_bounds(month: date, zone: ZoneInfo) -> Span:
    """The month as UTC instants: local midnight of the 1st to local midnight of the next."""
    first = month_start(month)
    return (
        datetime(first.year, first.month, 1, tzinfo=zone).astimezone(UTC),
        datetime(next_month(first).year, next_month(first).month, 1, tzinfo=zone).astimezone(UTC),
    )


def parse_month(text: str | None, default: date) -> date:
    """``2026-03`` -> 1 March 2026; anything else (or a year outside 2000-2100): default."""
    try:
        year, month = (int(part) for part in (text or "").split("-"))
        if not 2000 <= year <= 2100:
            return default
        return date(year, month, 1)
    except ValueError:
        return default


def last_months(month: date, count: int = 12) -> list[date]:
    months = [month_start(month)]
    while len(months) < count:
        months.append(previous_month(months[-1]))
    return list(reversed(months))


# -- intervals ------------------------------------------------------------------------


def union(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def subtract(spans: Sequence[Span], holes: Sequence[Span]) -> list[Span]:
    """``spans`` minus ``holes`` (both unions: sorted and disjoint)."""
    out: list[Span] = []
    for start, end in spans:
        cursor = start
        for h_start, h_end in holes:
            if h_end <= cursor or h_start >= end:
                continue
            if h_start > cursor:
                out.append((cursor, h_start))
            cursor = max(cursor, h_end)
            if cursor >= end:
                break
        if cursor < end:
            out.append((cursor, end))
    return out


def clip(spans: Iterable[Span], start: datetime, end: datetime) -> list[Span]:
    return [(max(s, start), min(e, end)) for s, e in spans if e > start and s < end]


# -- calendars ------------------------------------------------------------------------


def default_plan():
    from aftercare.sla.models import SlaPlan

    return SlaPlan.objects.filter(is_default=True).select_related("calendar").order_by("pk").first()


def service_calendar(
    organisation: Organisation, contract: Contract | None, fallback_plan=None
) -> BusinessCalendar:
    """The hours the contract promises service in (24x7 without a contract).

    ``fallback_plan`` is the default SLA plan when the caller has it already (one query
    per report instead of one per environment)."""
    from aftercare.sla.services import business_calendar

    if contract is None or contract.support_hours == Contract.SupportHours.ALWAYS:
        return BusinessCalendar(organisation.time_zone, week=ALWAYS_WEEK)
    plan = contract.sla_plan or fallback_plan or default_plan()
    return business_calendar(plan, organisation)


def _contract_of(environment: Environment) -> Contract | None:
    system = environment.system
    return system.contract if system.contract_id else None


# -- figures --------------------------------------------------------------------------


@dataclass
class Figures:
    """One month of one environment (or the sum over a contract's environments)."""

    month: date
    service_seconds: int = 0
    unplanned_seconds: int = 0
    planned_seconds: int = 0
    downtime_seconds: int = 0  # wall-clock seconds down, in or out of service hours
    target: Decimal | None = None
    partial: bool = False  # the month is still running (measured up to now)
    measured: bool = True  # False for a month entirely in the future or before service

    def add(self, other: Figures) -> None:
        self.service_seconds += other.service_seconds
        self.unplanned_seconds += other.unplanned_seconds
        self.planned_seconds += other.planned_seconds
        self.downtime_seconds += other.downtime_seconds
        self.partial = self.partial or other.partial
        self.measured = self.measured or other.measured

    @property
    def exact(self) -> Decimal | None:
        if not self.measured or self.service_seconds <= 0:
            return None
        up = self.service_seconds - self.unplanned_seconds
        return Decimal(up) * 100 / Decimal(self.service_seconds)

    @property
    def availability(self) -> Decimal | None:
        """Percent, rounded down to 3 decimals (never shows a missed target as met)."""
        exact = self.exact
        return None if exact is None else exact.quantize(Decimal("0.001"), rounding=ROUND_DOWN)

    @property
    def met(self) -> bool | None:
        exact = self.exact
        if exact is None or self.target is None:
            return None
        return exact >= self.target

    @property
    def service_hours(self) -> Decimal:
        return (Decimal(self.service_seconds) / 3600).quantize(Decimal("0.01"))

    @property
    def unplanned_minutes(self) -> int:
        return round(self.unplanned_seconds / 60)

    @property
    def planned_minutes(self) -> int:
        return round(self.planned_seconds / 60)

    @property
    def allowed_minutes(self) -> int | None:
        """Unplanned downtime the target allows in this month's service time."""
        if self.target is None or not self.service_seconds:
            return None
        return int(Decimal(self.service_seconds) * (100 - self.target) / 100 / 60)


def figures(
    *,
    month: date,
    calendar: BusinessCalendar,
    zone: ZoneInfo,
    downtimes: Iterable[Downtime],
    now: datetime,
    active: Span | None = None,
    target: Decimal | None = None,
) -> Figures:
    """One environment's month. ``active`` limits it to the contract's term (UTC)."""
    start, end = month_bounds(month, zone)
    result = Figures(month=month_start(month), target=target)
    if active is not None:
        start, end = max(start, active[0]), min(end, active[1])
    if now < end:
        result.partial = True
        end = now
    if end <= start:
        result.measured = False
        return result
    rows = list(downtimes)
    unplanned = clip(
        union((d.started_at, d.end_or(now)) for d in rows if not d.planned), start, end
    )
    planned_all = clip(union((d.started_at, d.end_or(now)) for d in rows if d.planned), start, end)
    planned = subtract(planned_all, unplanned)
    result.service_seconds = calendar.seconds_between(start, end)
    result.unplanned_seconds = sum(calendar.seconds_between(a, b) for a, b in unplanned)
    result.planned_seconds = sum(calendar.seconds_between(a, b) for a, b in planned)
    result.downtime_seconds = sum(
        int((b - a).total_seconds()) for a, b in union([*unplanned, *planned])
    )
    return result


def contract_term(contract: Contract, zone: ZoneInfo) -> Span:
    start = datetime(
        contract.starts_on.year, contract.starts_on.month, contract.starts_on.day, tzinfo=zone
    )
    if contract.ends_on is None:
        end = datetime(2200, 1, 1, tzinfo=UTC)
    else:
        after = contract.ends_on + timedelta(days=1)
        end = datetime(after.year, after.month, after.day, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


# -- reports ----------------------------------------------------------------------------


@dataclass
class EnvironmentReport:
    environment: Environment
    contract: Contract | None
    months: list[Figures]  # oldest first; the last is the chosen month
    downtimes: list[Downtime] = field(default_factory=list)  # of the chosen month

    @property
    def current(self) -> Figures:
        return self.months[-1]


@dataclass
class ContractReport:
    contract: Contract
    environments: list[EnvironmentReport]
    months: list[Figures]

    @property
    def current(self) -> Figures:
        return self.months[-1]


@dataclass
class OrganisationReport:
    organisation: Organisation
    month: date
    contracts: list[ContractReport]
    environments: list[EnvironmentReport]
    downtimes: list[Downtime]
    generated_at: datetime


def build(
    organisation: Organisation,
    month: date,
    environments: Sequence[Environment],
    *,
    history: int = 12,
    now: datetime | None = None,
) -> OrganisationReport:
    """Availability of ``environments`` (one organisation's) for ``month`` and the months
    before it (``history`` in all), per environment and per contract.

    One query for the downtimes of the whole range; the rest is arithmetic.
    """
    now = now or timezone.now()
    zone = organisation.zone
    months = last_months(month, history)
    range_start = month_bounds(months[0], zone)[0]
    range_end = month_bounds(months[-1], zone)[1]
    env_ids = [e.pk for e in environments]
    rows = list(
        Downtime.objects.filter(environment_id__in=env_ids, started_at__lt=range_end)
        .exclude(ended_at__isnull=False, ended_at__lte=range_start)
        .prefetch_related("incidents")
        .select_related("created_by")
        .order_by("started_at", "pk")
    )
    by_env: dict[int, list[Downtime]] = {pk: [] for pk in env_ids}
    env_by_id = {e.pk: e for e in environments}
    for row in rows:
        row.environment = env_by_id[row.environment_id]  # no query per row in the lists
        by_env[row.environment_id].append(row)
    chosen_start, chosen_end = month_bounds(months[-1], zone)

    env_reports: list[EnvironmentReport] = []
    fallback = None
    if any(
        (c := _contract_of(e)) is not None
        and c.support_hours != Contract.SupportHours.ALWAYS
        and c.sla_plan_id is None
        for e in environments
    ):
        fallback = default_plan()
    for environment in environments:
        contract = _contract_of(environment)
        calendar = service_calendar(organisation, contract, fallback)
        active = contract_term(contract, zone) if contract else None
        target = contract.availability_target if contract and environment.is_production else None
        per_month = [
            figures(
                month=m,
                calendar=calendar,
                zone=zone,
                downtimes=by_env[environment.pk],
                now=now,
                active=active,
                target=target,
            )
            for m in months
        ]
        shown = [
            d
            for d in by_env[environment.pk]
            if d.started_at < chosen_end and d.end_or(now) > chosen_start
        ]
        env_reports.append(EnvironmentReport(environment, contract, per_month, shown))

    contracts: dict[int, ContractReport] = {}
    for report in env_reports:
        contract = report.contract
        if contract is None or not report.environment.is_production:
            continue
        if contract.pk not in contracts:
            contracts[contract.pk] = ContractReport(
                contract,
                [],
                [
                    Figures(month=m, target=contract.availability_target, measured=False)
                    for m in months
                ],
            )
        entry = contracts[contract.pk]
        entry.environments.append(report)
        for total, one in zip(entry.months, report.months, strict=True):
            total.add(one)

    downtimes = sorted(
        (d for r in env_reports for d in r.downtimes), key=lambda d: (d.started_at, d.pk)
    )
    return OrganisationReport(
        organisation=organisation,
        month=months[-1],
        contracts=list(contracts.values()),
        environments=env_reports,
        downtimes=downtimes,
        generated_at=now,
    )
