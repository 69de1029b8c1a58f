"""Demo data: availability targets and a month of downtime for the demo customers.

Called from ``demo_load`` after ``lifecycle.demo`` (environments and maintenance windows
exist), inside its transaction and system scope. Downtimes go through the services, so the
demo obeys their rules: Carpathia's production had an unplanned outage last month (linked
to an incident) and a planned one inside its Saturday window; Dnipro had one outage this
month and is measured against a 99.9 % target it misses.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from aftercare.accounts.roles import Role
from aftercare.availability.services import record_downtime
from aftercare.desk import services as desk
from aftercare.desk.models import Category, Priority
from aftercare.lifecycle.models import Environment
from aftercare.tenancy.models import Membership

TARGETS = {"carpathia": Decimal("99.50"), "dnipro": Decimal("99.90")}


def _first_of_last_month() -> date:
    first = date.today().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def _weekday_in(month_start: date, weekday: int, nth: int = 1) -> date:
    day = month_start + timedelta(days=(weekday - month_start.weekday()) % 7)
    return day + timedelta(weeks=nth - 1)


def load(staff: dict) -> None:
    operator = staff[Role.OPERATOR]
    for code, target in TARGETS.items():
        productions = Environment.objects.filter(
            organisation__code=code, kind=Environment.Kind.PRODUCTION
        ).select_related("organisation", "system", "system__contract")
        production = productions.filter(system__product="Aftercare ERP").first()
        production = production or productions.first()
        if production is None:
            continue
        contract = production.system.contract
        if contract is not None and contract.availability_target is None:
            contract.availability_target = target
            contract.save(update_fields=["availability_target"])
        zone = production.organisation.zone
        last_month = _first_of_last_month()
        if code == "carpathia":
            # An unplanned outage on a Tuesday morning of last month, with its incident.
            day = _weekday_in(last_month, 1, 2)
            start = datetime.combine(day, time(9, 40), tzinfo=zone)
            reporter = (
                Membership.objects.filter(organisation=production.organisation)
                .select_related("user")
                .first()
            )
            incident = desk.open_ticket(
                actor=operator,
                reporter=reporter.user if reporter else operator,
                organisation=production.organisation,
                subject="Production ERP unreachable",
                description="Users cannot sign in: the application server does not answer.",
                category=Category.INCIDENT,
                priority=Priority.HIGH,
                channel="phone",
                system=production.system,
                created_at=start + timedelta(minutes=5),
            )
            record_downtime(
                environment=production,
                started_at=start,
                ended_at=start + timedelta(hours=2, minutes=15),
                cause="Application server out of memory after the nightly import.",
                planned=False,
                incidents=[incident],
                actor=operator,
            )
            # A planned restart inside the Saturday evening maintenance window.
            saturday = _weekday_in(last_month, 5, 3)
            record_downtime(
                environment=production,
                started_at=datetime.combine(saturday, time(21, 0), tzinfo=zone),
                ended_at=datetime.combine(saturday, time(22, 30), tzinfo=zone),
                cause="Database server patched (planned).",
                planned=None,
                actor=operator,
            )
        else:
            this_month = date.today().replace(day=1)
            day = this_month if this_month < date.today() else last_month + timedelta(days=20)
            start = datetime.combine(day, time(14, 0), tzinfo=zone)
            record_downtime(
                environment=production,
                started_at=start,
                ended_at=start + timedelta(hours=1, minutes=30),
                cause="Network link to the data centre down (provider fault).",
                planned=False,
                actor=operator,
            )
