"""The support managers' dashboard: backlog and its trend, created vs solved per week, SLA
compliance per customer, workload per agent, the oldest open requests.

Every figure is one aggregate query bounded by an index and a date range (created and
solved per week: ``ticket_created``, ``ticket_resolved``; SLA outcomes: ``clock_stopped``
and ``clock_due``) or by the open set (``ticket_status_created``), so the page costs the
same at 100k and at 1M requests (``docs/benchmarks.md``). No snapshots are kept: the
backlog of past weeks is computed backwards from today's (see ``backlog_trend``).

"Open" here means not solved yet: Backlog, Sprint, In progress and Waiting. Done counts
as solved (``resolved_at`` is set when a request goes to Done, Rejected or Released and
cleared when it is reopened), which is what "solved per week" counts too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

from aftercare.console.views.common import agent_required
from aftercare.desk.models import Priority, Status, Ticket
from aftercare.desk.querysets import visible_tickets
from aftercare.lib import svgchart
from aftercare.tenancy.querysets import visible_organisations

UNSOLVED = (Status.BACKLOG, Status.SPRINT, Status.IN_PROGRESS, Status.WAITING)
PERIODS = (4, 12, 26)  # weeks
DEFAULT_PERIOD = 12
COMPLIANCE_DAYS = 30
SLA_TARGET = 90  # percent; the line on the compliance chart (the SLA report warns below it)
OLDEST = 10
MAX_AGENTS = 20
URGENT = (Priority.CRITICAL, Priority.HIGH)


@dataclass
class Week:
    start: date  # Monday, in the viewer's time zone
    created: int = 0
    solved: int = 0
    created_urgent: int = 0
    solved_urgent: int = 0
    backlog: int = 0  # open at the end of the week (for the current week: now)
    backlog_urgent: int = 0


@dataclass
class Customer:
    pk: int
    name: str
    total: int = 0
    met: int = 0

    @property
    def breached(self) -> int:
        return self.total - self.met

    @property
    def compliance(self) -> float | None:
        return round(100 * self.met / self.total, 1) if self.total else None


@dataclass
class Agent:
    label: str
    by_priority: dict[int, int] = field(default_factory=dict)
    unassigned: bool = False

    @property
    def total(self) -> int:
        return sum(self.by_priority.values())


@dataclass
class Dashboard:
    now: datetime
    weeks: list[Week]
    backlog: int
    backlog_urgent: int
    overdue: int
    customers: list[Customer]
    agents: list[Agent]
    oldest: list[Ticket]

    @property
    def this_week(self) -> Week:
        return self.weeks[-1]

    @property
    def compliance_met(self) -> int:
        return sum(c.met for c in self.customers)

    @property
    def compliance_total(self) -> int:
        return sum(c.total for c in self.customers)

    @property
    def compliance(self) -> float | None:
        total = self.compliance_total
        return round(100 * self.compliance_met / total, 1) if total else None


def week_starts(now: datetime, weeks: int) -> list[datetime]:
    """The Mondays 00:00 (current time zone) of the last ``weeks`` weeks, oldest first."""
    tz = timezone.get_current_timezone()
    today = timezone.localtime(now, tz).date()
    monday = today - timedelta(days=today.weekday())
    days = [monday - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
    return [datetime(d.year, d.month, d.day, tzinfo=tz) for d in days]


def _per_week(qs: QuerySet[Ticket], column: str, since: datetime, now: datetime) -> dict:
    """{(Monday, urgent?): count} of requests whose ``column`` falls in [since, now]."""
    rows = (
        qs.filter(**{f"{column}__gte": since, f"{column}__lte": now})
        .order_by()
        .annotate(week=TruncWeek(column, tzinfo=timezone.get_current_timezone()))
        .values("week")
        .annotate(n=Count("pk"), urgent=Count("pk", filter=Q(priority__in=URGENT)))
    )
    return {timezone.localtime(r["week"]).date(): (r["n"], r["urgent"]) for r in rows}


def backlog_trend(weeks: list[Week], backlog_now: int, urgent_now: int) -> None:
    """Fill ``backlog`` of each week, counting backwards from today.

    backlog at the end of week w = backlog now − created after w + solved after w.

    It is exact as long as a solved request stays solved. A reopened request has its
    ``resolved_at`` cleared, so its earlier solving is forgotten: it counts as open in
    every week since it was created, and the past backlog comes out slightly too high (by
    the requests reopened since then). A priority change moves a request between the
    urgent and the other line from the day it was created. Requests merged or archived
    without being solved count as solved never, i.e. still open in the past. These are
    the limits of computing without snapshots.
    """
    backlog, urgent = backlog_now, urgent_now
    for week in reversed(weeks):
        week.backlog, week.backlog_urgent = backlog, urgent
        backlog += week.solved - week.created
        urgent += week.solved_urgent - week.created_urgent


def build(
    tickets: QuerySet[Ticket],
    clocks,
    *,
    organisations: dict[int, str],
    weeks: int = DEFAULT_PERIOD,
    now: datetime | None = None,
) -> Dashboard:
    """The dashboard of the requests in ``tickets`` and the SLA clocks in ``clocks``
    (both already narrowed to what the reader may see)."""
    from aftercare.accounts.models import User
    from aftercare.sla.models import Metric, SlaClock
    from aftercare.sla.reports import decided

    now = now or timezone.now()
    starts = week_starts(now, weeks)
    since = starts[0]
    created = _per_week(tickets, "created_at", since, now)
    solved = _per_week(tickets, "resolved_at", since, now)
    rows = []
    for start in starts:
        c, cu = created.get(start.date(), (0, 0))
        s, su = solved.get(start.date(), (0, 0))
        rows.append(Week(start.date(), c, s, cu, su))

    # Workload: the open set by assignee and priority; its sum is the backlog now.
    agents: dict[int | None, Agent] = {}
    load = (
        tickets.filter(status__in=UNSOLVED)
        .order_by()
        .values("assignee_id", "priority")
        .annotate(n=Count("pk"))
    )
    for r in load:
        agent = agents.setdefault(r["assignee_id"], Agent(""))
        agent.by_priority[r["priority"]] = agent.by_priority.get(r["priority"], 0) + r["n"]
    backlog = sum(a.total for a in agents.values())
    urgent = sum(a.by_priority.get(p, 0) for a in agents.values() for p in URGENT)
    backlog_trend(rows, backlog, urgent)
    ids = [pk for pk in agents if pk is not None]
    names = {
        u.pk: u.display_name
        for u in User.objects.filter(pk__in=ids).only("pk", "first_name", "last_name", "email")
    }
    for pk, agent in agents.items():
        agent.label = names.get(pk, "?") if pk is not None else _("Unassigned")
        agent.unassigned = pk is None
    ordered = sorted(
        (a for pk, a in agents.items() if pk is not None), key=lambda a: (-a.total, a.label)
    )
    if len(ordered) > MAX_AGENTS:
        rest = Agent(_("Other agents"))
        for a in ordered[MAX_AGENTS - 1 :]:
            for p, n in a.by_priority.items():
                rest.by_priority[p] = rest.by_priority.get(p, 0) + n
        ordered = [*ordered[: MAX_AGENTS - 1], rest]
    if None in agents:
        ordered.insert(0, agents[None])

    # SLA compliance per customer: resolution clocks decided in the last 30 days, by the
    # rule of the SLA report (docs/sla.md), so the two pages agree.
    lo = now - timedelta(days=COMPLIANCE_DAYS)
    outcomes = (
        decided(clocks.filter(metric=Metric.RESOLUTION), lo, now, now)
        .order_by()
        .values("organisation_id")
        .annotate(total=Count("pk"), met=Count("pk", filter=Q(state=SlaClock.State.MET)))
    )
    customers = [
        Customer(
            r["organisation_id"], organisations.get(r["organisation_id"], "?"), r["total"], r["met"]
        )
        for r in outcomes
        if r["organisation_id"] in organisations
    ]
    customers.sort(key=lambda c: (c.compliance, c.name))

    overdue = (
        clocks.filter(state=SlaClock.State.RUNNING, deadline__lt=now)
        .order_by()
        .values("ticket_id")
        .distinct()
        .count()
    )
    oldest = oldest_open(tickets)
    return Dashboard(now, rows, backlog, urgent, overdue, customers, ordered, oldest)


def oldest_open(tickets: QuerySet[Ticket], limit: int = OLDEST) -> list[Ticket]:
    """The ``limit`` oldest open requests.

    ``status IN (…) ORDER BY created_at LIMIT 10`` lets PostgreSQL walk ``ticket_created``
    from the oldest request and skip closed ones until it finds ten open: after years of
    history that is nearly every row. So each open status takes its own ten from
    ``ticket_status_created`` (status, created_at) in one UNION ALL, and the ten oldest of
    those are fetched by primary key: two small queries whatever the history.
    """
    base = tickets.order_by("created_at", "id").values_list("pk", "created_at")
    if connection.features.supports_slicing_ordering_in_compound:
        first, *rest = (base.filter(status=s)[:limit] for s in UNSOLVED)
        picks = sorted(first.union(*rest, all=True), key=lambda r: (r[1], r[0]))[:limit]
    else:  # SQLite: no LIMIT inside a compound query; its tables are small anyway
        picks = list(base.filter(status__in=UNSOLVED)[:limit])
    return list(
        Ticket.objects.filter(pk__in=[pk for pk, _at in picks])
        .select_related("organisation", "assignee")
        .only(
            "number",
            "subject",
            "status",
            "priority",
            "created_at",
            "organisation__name",
            "assignee__first_name",
            "assignee__last_name",
            "assignee__email",
            "assignee__username",
        )
        .order_by("created_at", "id")
    )


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{number_format(value, 1)} %"


def charts(board: Dashboard) -> dict:
    labels = [date_format(w.start, "j M") for w in board.weeks]
    week_label = _("Week starting")
    period = _("%(first)s to %(last)s") % {"first": labels[0], "last": labels[-1]}
    trend = svgchart.line_chart(
        chart_id="chart-backlog",
        title=_("Open requests at the end of each week"),
        desc=_(
            "Open requests (all, and critical or high priority) at the end of each week, "
            "%(period)s; the last point is now."
        )
        % {"period": period},
        labels=labels,
        series=[
            (_("All open requests"), [w.backlog for w in board.weeks]),
            (_("Critical or high"), [w.backlog_urgent for w in board.weeks]),
        ],
        x_label=week_label,
        y_label=_("Requests"),
    )
    flow = svgchart.grouped_bars(
        chart_id="chart-flow",
        title=_("Created and solved per week"),
        desc=_("Requests created and requests solved in each week, %(period)s.")
        % {"period": period},
        labels=labels,
        series=[
            (_("Created"), [w.created for w in board.weeks]),
            (_("Solved"), [w.solved for w in board.weeks]),
        ],
        x_label=week_label,
        y_label=_("Requests"),
    )
    compliance = svgchart.horizontal_bars(
        chart_id="chart-compliance",
        title=_("Resolution SLA met per customer, last %(days)s days") % {"days": COMPLIANCE_DAYS},
        desc=_(
            "Share of resolution targets met per customer, lowest first; requests still "
            "open past their due time count as missed. The dashed line is the %(target)s %% "
            "target."
        )
        % {"target": SLA_TARGET},
        rows=[(c.name, [c.compliance or 0]) for c in board.customers],
        x_label=_("Targets met (%)"),
        percent=True,
        decimals=1,
        target=SLA_TARGET,
        target_label=_("Target %(target)s %%") % {"target": SLA_TARGET},
        label_width=170,
    )
    priorities = list(Priority)
    workload = svgchart.horizontal_bars(
        chart_id="chart-workload",
        title=_("Open requests per agent, by priority"),
        desc=_("Open requests assigned to each agent, stacked by priority; unassigned first."),
        rows=[(a.label, [a.by_priority.get(p.value, 0) for p in priorities]) for a in board.agents],
        series=[str(p.label) for p in priorities],
        x_label=_("Open requests"),
        label_width=150,
    )
    return {"trend": trend, "flow": flow, "compliance": compliance, "workload": workload}


def _int_param(request: HttpRequest, name: str) -> int | None:
    try:
        return int(request.GET.get(name) or 0) or None
    except ValueError:
        return None


@agent_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Support managers' overview; a restricted agent sees only their organisations."""
    from aftercare.sla.models import SlaClock

    permset = request.permset
    if not permset.has("desk.view_reports"):
        raise PermissionDenied(_("The dashboard is for support managers."))
    organisations = list(visible_organisations(permset).only("pk", "name").order_by("name"))
    names = {o.pk: o.name for o in organisations}
    organisation_id = _int_param(request, "organisation")
    if organisation_id not in names:
        organisation_id = None
    weeks = _int_param(request, "weeks")
    if weeks not in PERIODS:
        weeks = DEFAULT_PERIOD

    # The same rule as the SLA report: the requests in the reader's reach, and the clocks
    # of the organisations in reach (a clock carries its request's organisation, so the
    # filter needs no subquery over every request).
    tickets = visible_tickets(permset)
    clocks = SlaClock.objects.all()
    restricted = permset.agent_restricted_to
    if restricted is not None:
        clocks = clocks.filter(organisation_id__in=sorted(restricted))
    if organisation_id:
        tickets = tickets.filter(organisation_id=organisation_id)
        clocks = clocks.filter(organisation_id=organisation_id)
        names = {organisation_id: names[organisation_id]}
    board = build(tickets, clocks, organisations=names, weeks=weeks)
    return render(
        request,
        "console/dashboard.html",
        {
            "nav": "dashboard",
            "board": board,
            "charts": charts(board),
            "organisations": organisations,
            "organisation_id": organisation_id,
            "weeks": weeks,
            "periods": PERIODS,
            "compliance_days": COMPLIANCE_DAYS,
            "compliance_text": _percent(board.compliance),
            "sla_target": SLA_TARGET,
            "reports_url": reverse("console:reports"),
        },
    )
