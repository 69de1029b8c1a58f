"""SLA reports: compliance, response and resolution times, backlog age.

A clock counts in the report once its outcome is known. A stopped clock (met or
breached) counts in the month of ``stopped_at``. A clock still running past its deadline
has already missed its target: it counts as breached in the month of its ``deadline``
until it stops, and from then on like any stopped clock. A paused clock has no running deadline
(``_recompute`` clears it), so it counts only if the periodic check recorded a breach
before the pause (``breached_at``), in that month; a paused clock not yet late is still
undecided and is left out. See ``docs/sla.md``.

Callers pass the querysets they are allowed to see (the console: every ticket in reach;
the portal: one coordinator's organisations), so the report has no access rules of its
own to get wrong. Aggregation happens in the database; percentiles are computed from one
column of floats, which stays cheap at 100k requests.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    When,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.desk.models import OPEN_STATUSES, Category, Priority, Ticket
from aftercare.sla.models import Metric, SlaClock, SlaExtension

AGE_BUCKETS = [  # (upper bound in days, label)
    (1, "< 1d"),
    (3, "1–3d"),
    (7, "3–7d"),
    (30, "7–30d"),
    (None, "> 30d"),
]


def percentile(sorted_values: list[float], share: float) -> float | None:
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * share
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


@dataclass
class Row:
    label: str
    total: int = 0
    met: int = 0
    # Met only because the deadline was extended by agreement with the customer: counted
    # in ``met`` (no breach) and shown apart, so agreed extensions are visible.
    extended: int = 0

    @property
    def breached(self) -> int:
        return self.total - self.met

    @property
    def compliance(self) -> float | None:
        return round(100 * self.met / self.total, 1) if self.total else None


@dataclass
class Report:
    start: date
    end: date
    by_metric: dict[str, dict[str, list[Row]]] = field(default_factory=dict)
    times: dict[str, dict[str, float | None]] = field(default_factory=dict)
    backlog: list[tuple[str, int]] = field(default_factory=list)
    open_total: int = 0
    overdue: dict[str, int] = field(default_factory=dict)  # metric → still open, past due
    extensions: list[SlaExtension] = field(default_factory=list)  # agreed in the period
    extensions_total: int = 0

    EXTENSIONS_SHOWN = 100


def month_range(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    lo = datetime(start.year, start.month, 1, tzinfo=tz)
    nxt = date(end.year + (end.month == 12), end.month % 12 + 1, 1)
    return lo, datetime(nxt.year, nxt.month, 1, tzinfo=tz)


def build(
    tickets: QuerySet[Ticket],
    clocks: QuerySet[SlaClock],
    start: date,
    end: date,
    now: datetime | None = None,
) -> Report:
    now = now or timezone.now()
    lo, hi = month_range(start, end)
    report = Report(start=start, end=end)
    done = decided(clocks, lo, hi, now).annotate(
        has_extension=Exists(SlaExtension.objects.filter(clock=OuterRef("pk")))
    )
    met = Count("pk", filter=Q(state=SlaClock.State.MET))
    extended = Count(
        "pk",
        filter=Q(
            state=SlaClock.State.MET,
            has_extension=True,
            elapsed_minutes__gt=F("target_minutes"),
        ),
    )
    names = {
        "organisation": ("ticket__organisation__name", None),
        "priority": ("ticket__priority", Priority),
        "category": ("ticket__category", Category),
    }
    for metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION):
        per = {}
        rows = done.filter(metric=metric)
        for dim, (path, enum) in names.items():
            data = (
                rows.values(path)
                .annotate(total=Count("pk"), met=met, extended=extended)
                .order_by(path)
            )
            per[dim] = [
                Row(
                    str(enum(item[path]).label) if enum else item[path],
                    item["total"],
                    item["met"],
                    item["extended"],
                )
                for item in data
            ]
        months = (
            rows.annotate(month=TruncMonth("decided_at"))
            .values("month")
            .annotate(total=Count("pk"), met=met, extended=extended)
            .order_by("month")
        )
        per["month"] = [
            Row(item["month"].strftime("%Y-%m"), item["total"], item["met"], item["extended"])
            for item in months
        ]
        per["all"] = [
            Row(
                _("All"),
                sum(r.total for r in per["month"]),
                sum(r.met for r in per["month"]),
                sum(r.extended for r in per["month"]),
            )
        ]
        report.by_metric[metric] = per
        report.overdue[metric] = rows.filter(stopped_at__isnull=True).count()
        values = sorted(
            rows.exclude(elapsed_minutes__isnull=True).values_list("elapsed_minutes", flat=True)
        )
        report.times[metric] = {
            "median": percentile(values, 0.5),
            "p90": percentile(values, 0.9),
            "count": len(values),
        }
    whens = [
        When(created_at__gt=now - timedelta(days=upper), then=index)
        for index, (upper, _label) in enumerate(AGE_BUCKETS)
        if upper is not None
    ]
    ages = (
        tickets.filter(status__in=OPEN_STATUSES)
        .order_by()
        .annotate(bucket=Case(*whens, default=len(AGE_BUCKETS) - 1, output_field=IntegerField()))
        .values("bucket")
        .annotate(n=Count("pk"))
    )
    counts = {item["bucket"]: item["n"] for item in ages}
    report.backlog = [(label, counts.get(i, 0)) for i, (_u, label) in enumerate(AGE_BUCKETS)]
    report.open_total = sum(counts.values())
    agreed = SlaExtension.objects.filter(
        clock__in=clocks.values("pk"), created_at__gte=lo, created_at__lt=hi
    )
    report.extensions_total = agreed.count()
    report.extensions = list(
        agreed.select_related("ticket", "clock", "agreed_by").order_by("-created_at", "-pk")[
            : Report.EXTENSIONS_SHOWN
        ]
    )
    return report


def decided(
    clocks: QuerySet[SlaClock], lo: datetime, hi: datetime, now: datetime
) -> QuerySet[SlaClock]:
    """The clocks whose outcome became known in ``[lo, hi)``, annotated ``decided_at``.

    Stopped clocks by ``stopped_at``; running clocks past due by ``deadline`` (they are
    breached although nobody stopped them yet); paused clocks the check had already marked
    breached by ``breached_at``. Running and paused clocks are never ``met``, so the
    ``met`` count needs no special case.
    """
    overdue_until = min(hi, now)
    running = SlaClock.State.RUNNING
    paused = SlaClock.State.PAUSED
    return clocks.filter(
        Q(stopped_at__gte=lo, stopped_at__lt=hi)
        | Q(stopped_at__isnull=True, state=running, deadline__gte=lo, deadline__lt=overdue_until)
        | Q(stopped_at__isnull=True, state=paused, breached_at__gte=lo, breached_at__lt=hi)
    ).annotate(
        decided_at=Case(
            When(stopped_at__isnull=False, then=F("stopped_at")),
            When(state=running, then=F("deadline")),
            default=F("breached_at"),
            output_field=DateTimeField(),
        )
    )


def to_csv(report: Report) -> str:
    """One row per metric and breakdown; text cells cannot start a formula."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "metric",
            "dimension",
            "value",
            "total",
            "met",
            "breached",
            "compliance_percent",
            "met_by_extension",
        ]
    )
    for metric, per in report.by_metric.items():
        for dim, rows in per.items():
            for row in rows:
                writer.writerow(
                    [
                        metric,
                        dim,
                        safe_cell(row.label),
                        row.total,
                        row.met,
                        row.breached,
                        "" if row.compliance is None else row.compliance,
                        row.extended,
                    ]
                )
    for metric, stats in report.times.items():
        for key in ("median", "p90"):
            value = stats[key]
            writer.writerow(
                [
                    metric,
                    f"{key}_business_minutes",
                    "",
                    stats["count"],
                    "",
                    "",
                    "" if value is None else round(value, 1),
                    "",
                ]
            )
    for label, n in report.backlog:
        writer.writerow(["backlog", "age", label, n, "", "", "", ""])
    # Deadlines extended by agreement in the period (apart from breaches).
    writer.writerow(["all", "extensions_agreed", "", report.extensions_total, "", "", "", ""])
    return out.getvalue()


def safe_cell(value: str) -> str:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def parse_month(text: str | None, default: date) -> date:
    try:
        year, month = (int(part) for part in (text or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return default


def period_from(params, today: date | None = None) -> tuple[date, date]:
    """``?from=2026-01&to=2026-06``; default: the last six months, this one included."""
    today = today or timezone.localdate()
    this_month = today.replace(day=1)
    six_back = date(this_month.year - (this_month.month <= 5), (this_month.month - 6) % 12 + 1, 1)
    start = parse_month(params.get("from"), six_back)
    end = parse_month(params.get("to"), this_month)
    if end < start:
        start, end = end, start
    return start, end
