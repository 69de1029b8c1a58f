"""Time totals: one request's panel, and the billing report per contract and month.

Every figure is a SQL aggregate (``SUM`` grouped by contract and month, by request, by
agent), so the cost does not grow with the number of entries, only with the number of
rows shown. The caller hands in the entries the reader may see.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils.formats import number_format

from aftercare.sla.reports import safe_cell
from aftercare.timetracking.models import TimeEntry

# The report page lists this many requests; the CSV has them all.
REQUEST_ROWS_SHOWN = 200


def hours_minutes(minutes: int | None) -> str:
    """``90`` → ``1:30`` (hours can pass 24: this is a sum, not a time of day)."""
    hours, mins = divmod(int(minutes or 0), 60)
    return f"{hours}:{mins:02d}"


def decimal_hours(minutes: int | None) -> str:
    """``90`` → ``1.50`` (two decimals, a dot: for the CSV and for invoices)."""
    return f"{(minutes or 0) / 60:.2f}"


def _name(row: dict, prefix: str = "user__") -> str:
    full = " ".join(p for p in (row[f"{prefix}first_name"], row[f"{prefix}last_name"]) if p)
    return full or row[f"{prefix}email"] or row[f"{prefix}username"]


_USER = ("user_id", "user__first_name", "user__last_name", "user__email", "user__username")


@dataclass
class Line:
    minutes: int
    entries: int = 0
    label: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def hm(self) -> str:
        return hours_minutes(self.minutes)

    @property
    def decimal(self) -> str:
        return number_format(self.minutes / 60, 2)


def ticket_summary(ticket_id: int, *, last: int = 8) -> dict:
    """The request page's panel: total, per agent, the last entries (two queries)."""
    per_agent = [
        Line(minutes=row["minutes"], entries=row["entries"], label=_name(row), extra=row)
        for row in TimeEntry.objects.filter(ticket_id=ticket_id)
        .values(*_USER)
        .annotate(minutes=Sum("minutes"), entries=Count("id"))
        .order_by("-minutes", "user_id")
    ]
    entries = list(
        TimeEntry.objects.filter(ticket_id=ticket_id)
        .select_related("user", "message")
        .order_by("-spent_on", "-created_at", "-pk")[:last]
    )
    count = sum(a.entries for a in per_agent)
    total = sum(a.minutes for a in per_agent)
    return {
        "total": Line(minutes=total, entries=count),
        "per_agent": per_agent,
        "entries": entries,
        "more": max(0, count - len(entries)),
    }


@dataclass
class TimeReport:
    start: date
    end: date  # first day of the last month included
    by_contract_month: list[dict]
    by_request: list[dict]
    by_agent: list[dict]
    total: int
    entries: int
    requests_total: int


def _month_after(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def build(entries: QuerySet[TimeEntry], start: date, end: date) -> TimeReport:
    """Totals of ``entries`` spent from month ``start`` to month ``end`` (both included)."""
    rows = entries.filter(spent_on__gte=start, spent_on__lt=_month_after(end))
    contract_month = [
        {
            **row,
            "hm": hours_minutes(row["minutes"]),
            "decimal": decimal_hours(row["minutes"]),
        }
        for row in rows.annotate(month=TruncMonth("spent_on"))
        .values(
            "month",
            "organisation_id",
            "organisation__name",
            "contract_id",
            "contract__number",
        )
        .annotate(
            minutes=Sum("minutes"), entries=Count("id"), requests=Count("ticket", distinct=True)
        )
        .order_by("organisation__name", "contract__number", "contract_id", "month")
    ]
    by_request = [
        {**row, "hm": hours_minutes(row["minutes"]), "decimal": decimal_hours(row["minutes"])}
        for row in rows.values(
            "ticket_id",
            "ticket__number",
            "ticket__subject",
            "organisation__name",
            "contract__number",
        )
        .annotate(minutes=Sum("minutes"), entries=Count("id"))
        .order_by("-minutes", "ticket__number")
    ]
    by_agent = [
        {
            **row,
            "name": _name(row),
            "hm": hours_minutes(row["minutes"]),
            "decimal": decimal_hours(row["minutes"]),
        }
        for row in rows.values(*_USER)
        .annotate(
            minutes=Sum("minutes"), entries=Count("id"), requests=Count("ticket", distinct=True)
        )
        .order_by("-minutes", "user_id")
    ]
    for row in contract_month:
        # TruncMonth gives a date on both databases for a DateField; keep it a date.
        month = row["month"]
        row["month"] = month.date() if hasattr(month, "date") and callable(month.date) else month
        row["month_label"] = f"{row['month']:%Y-%m}"
    return TimeReport(
        start=start,
        end=end,
        by_contract_month=contract_month,
        by_request=by_request,
        by_agent=by_agent,
        total=sum(r["minutes"] for r in by_agent),
        entries=sum(r["entries"] for r in by_agent),
        requests_total=len(by_request),
    )


CSV_HEADER = [
    "section",
    "month",
    "organisation",
    "contract",
    "request",
    "subject",
    "agent",
    "entries",
    "minutes",
    "hours",
    "hours_decimal",
]


def to_csv(report: TimeReport) -> str:
    """One row per contract and month, then per request, per agent, and the total.

    ``hours`` is h:mm, ``hours_decimal`` has a dot and two decimals; text cells cannot
    start a formula.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for r in report.by_contract_month:
        writer.writerow(
            [
                "contract_month",
                r["month_label"],
                safe_cell(r["organisation__name"]),
                safe_cell(r["contract__number"] or ""),
                "",
                "",
                "",
                r["entries"],
                r["minutes"],
                r["hm"],
                r["decimal"],
            ]
        )
    for r in report.by_request:
        writer.writerow(
            [
                "request",
                "",
                safe_cell(r["organisation__name"]),
                safe_cell(r["contract__number"] or ""),
                r["ticket__number"],
                safe_cell(r["ticket__subject"]),
                "",
                r["entries"],
                r["minutes"],
                r["hm"],
                r["decimal"],
            ]
        )
    for r in report.by_agent:
        writer.writerow(
            [
                "agent",
                "",
                "",
                "",
                "",
                "",
                safe_cell(r["name"]),
                r["entries"],
                r["minutes"],
                r["hm"],
                r["decimal"],
            ]
        )
    writer.writerow(
        [
            "total",
            f"{report.start:%Y-%m}..{report.end:%Y-%m}",
            "",
            "",
            "",
            "",
            "",
            report.entries,
            report.total,
            hours_minutes(report.total),
            decimal_hours(report.total),
        ]
    )
    return out.getvalue()
