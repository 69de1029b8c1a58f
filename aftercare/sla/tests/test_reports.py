"""SLA reports and SLA in the console: who sees what, and that the numbers add up."""

import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from aftercare.desk import services as desk
from aftercare.desk.models import Priority, Status
from aftercare.desk.tests.factories import ticket_for
from aftercare.sla import reports
from aftercare.sla.models import SlaClock

pytestmark = pytest.mark.django_db
BUC = ZoneInfo("Europe/Bucharest")


def at(*args):
    return datetime(*args, tzinfo=BUC)


def test_percentile_interpolates():
    assert reports.percentile([], 0.5) is None
    assert reports.percentile([10.0], 0.9) == 10.0
    assert reports.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert reports.percentile(list(map(float, range(1, 11))), 0.9) == pytest.approx(9.1)


def test_period_defaults_to_the_last_six_months():
    assert reports.period_from({}, today=date(2026, 11, 25)) == (
        date(2026, 6, 1),
        date(2026, 11, 1),
    )
    assert reports.period_from({}, today=date(2026, 3, 2)) == (date(2025, 10, 1), date(2026, 3, 1))
    assert reports.period_from({"from": "2026-05", "to": "2026-01"}) == (
        date(2026, 1, 1),
        date(2026, 5, 1),
    )
    assert reports.period_from({"from": "garbage"}, today=date(2026, 11, 25))[0] == date(2026, 6, 1)


def test_csv_cells_cannot_start_a_formula():
    assert reports.safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert reports.safe_cell("+1") == "'+1" and reports.safe_cell("Acme") == "Acme"


@pytest.fixture
def history(owner, org, outsider, other_org, consultant):
    """In November 2026: one request solved in time and one late in org; one in other_org."""
    with time_machine.travel(at(2026, 11, 9, 10), tick=False):
        fast = ticket_for(owner, org, priority=Priority.NORMAL, subject="Fast one")
        slow = ticket_for(owner, org, priority=Priority.HIGH, subject="Slow one")
        other = ticket_for(outsider, other_org, priority=Priority.NORMAL, subject="Theirs")
        desk.reply(ticket=fast, actor=consultant, body="On it")
    with time_machine.travel(at(2026, 11, 10, 10), tick=False):
        for t in (fast, other):
            for target in (Status.IN_PROGRESS, Status.DONE):
                desk.transition(ticket=t, actor=consultant, target=target)
    with time_machine.travel(at(2026, 11, 20, 10), tick=False):
        for target in (Status.IN_PROGRESS, Status.DONE):
            desk.transition(ticket=slow, actor=consultant, target=target)
    return fast, slow, other


def test_the_report_counts_met_and_breached(history):
    from aftercare.desk.models import Ticket

    rep = reports.build(
        Ticket.objects.all(),
        SlaClock.objects.all(),
        date(2026, 11, 1),
        date(2026, 11, 1),
        now=at(2026, 11, 25, 12),
    )
    resolution = rep.by_metric["resolution"]
    assert (resolution["all"][0].total, resolution["all"][0].met) == (3, 2)
    by_priority = {r.label: (r.total, r.met) for r in resolution["priority"]}
    assert by_priority == {"High": (1, 0), "Normal": (2, 2)}
    assert rep.times["resolution"]["count"] == 3
    assert rep.times["resolution"]["median"] == 540  # one business day
    first = rep.by_metric["first_response"]["all"][0]
    assert (first.total, first.met) == (3, 1)  # only "fast" got a reply in time


def test_manager_sees_the_report_and_exports_csv(history, client_for, manager):
    c = client_for(manager)
    page = c.get(reverse("console:reports"), {"from": "2026-11", "to": "2026-11"})
    assert page.status_code == 200
    assert b"Beta Logistics" in page.content and b"Alpha Foods" in page.content
    export = c.get(
        reverse("console:reports"), {"from": "2026-11", "to": "2026-11", "format": "csv"}
    )
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][0] == "metric"
    assert ["resolution", "all", "All", "3", "2", "1", "66.7", "0"] in rows


def test_a_manager_restricted_to_one_customer_reports_on_that_customer_alone(
    history, client_for, manager, org, other_org
):
    from aftercare.tenancy.models import AgentRestriction

    AgentRestriction.objects.create(user=manager, organisation=org)
    c = client_for(manager)
    period = {"from": "2026-11", "to": "2026-11"}
    page = c.get(reverse("console:reports"), period)
    assert b"Alpha Foods" in page.content and b"Beta Logistics" not in page.content

    def rows(**extra):
        export = c.get(reverse("console:reports"), {**period, "format": "csv", **extra})
        return list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))

    mine = rows()
    assert ["resolution", "all", "All", "2", "1", "1", "50.0", "0"] in mine
    assert not any("Beta" in cell for row in mine for cell in row)
    # Asking for the other customer by its id gives nothing of it.
    theirs = rows(organisation=other_org.pk)
    assert ["resolution", "all", "All", "0", "0", "0", "", "0"] in theirs
    assert ["first_response", "all", "All", "0", "0", "0", "", "0"] in theirs


def test_an_operator_cannot_see_reports(client_for, operator):
    assert client_for(operator).get(reverse("console:reports")).status_code == 403


def test_coordinator_sees_only_their_organisation(history, client_for, coordinator):
    c = client_for(coordinator)
    page = c.get(reverse("portal:reports"), {"from": "2026-11", "to": "2026-11"})
    assert page.status_code == 200
    assert b"Alpha Foods" in page.content and b"Beta Logistics" not in page.content
    rows = list(
        csv.reader(
            io.StringIO(
                c.get(
                    reverse("portal:reports"), {"from": "2026-11", "to": "2026-11", "format": "csv"}
                ).content.decode("utf-8-sig")
            )
        )
    )
    assert ["resolution", "all", "All", "2", "1", "1", "50.0", "0"] in rows
    assert not any("Beta" in cell for row in rows for cell in row)


def test_a_customer_user_cannot_see_reports(client_for, owner):
    assert client_for(owner).get(reverse("portal:reports")).status_code == 403


def test_queue_filters_breached_and_soon(owner, org, client_for, operator):
    with time_machine.travel(at(2026, 11, 9, 10), tick=False):
        late = ticket_for(owner, org, subject="Late one")
    with time_machine.travel(at(2026, 11, 10, 9), tick=False):
        soon = ticket_for(owner, org, subject="Soon one")
        fresh = ticket_for(owner, org, priority=Priority.LOW, subject="Fresh one")
    c = client_for(operator)
    with time_machine.travel(at(2026, 11, 10, 12, 30), tick=False):
        breached = c.get(reverse("console:queue"), {"sla": "breached"})
        warning = c.get(reverse("console:queue"), {"sla": "soon"})
        by_due = c.get(reverse("console:queue"), {"sort": "sla"})
    numbers = lambda r: [t.number for t in r.context["page"].rows]  # noqa: E731
    assert numbers(breached) == [late.number]
    assert numbers(warning) == [soon.number]
    assert numbers(by_due)[:2] == [late.number, soon.number]
    assert fresh.number in numbers(by_due)
    assert b"overdue" in breached.content


def test_ticket_page_shows_the_clocks(ticket, client_for, operator):
    page = client_for(operator).get(reverse("console:ticket", args=[ticket.number]))
    assert b'id="sla-panel"' in page.content
    assert page.context["can_acknowledge"] is True


def test_acknowledge_from_the_console(ticket, client_for, operator):
    from aftercare.desk.models import Event

    r = client_for(operator).post(
        reverse("console:ticket", args=[ticket.number]), {"action": "acknowledge"}
    )
    assert r.status_code == 302
    assert Event.objects.filter(ticket=ticket, action="desk.ticket.acknowledged").count() == 1


def test_sla_check_command(owner, org, capsys):
    from django.core.management import call_command

    ticket_for(owner, org, created_at=at(2026, 1, 5, 10) - timedelta(days=1))
    call_command("sla_check")
    assert "breached 2" in capsys.readouterr().out


def test_agents_see_and_clear_their_own_notifications(
    owner, org, client_for, operator, consultant, manager
):
    from aftercare.sla import services as sla_services
    from aftercare.sla.models import Notification

    with time_machine.travel(at(2026, 11, 9, 10), tick=False):
        t = ticket_for(owner, org, subject="Printer jam in warehouse")
    desk.assign(ticket=t, actor=operator, assignee=consultant)
    sla_services.check(at(2026, 11, 9, 13, 30))
    mine = client_for(consultant).get(reverse("console:notifications"))
    # The assignment and the SLA warning, both under the bell.
    assert t.number.encode() in mine.content and mine.context["unread"] == 2
    assert {n.kind for n in mine.context["rows"]} == {"assigned", "sla_warning"}
    theirs = client_for(manager).get(reverse("console:notifications"))
    assert t.number.encode() not in theirs.content
    client_for(consultant).post(reverse("console:notifications"))
    assert not Notification.objects.filter(user=consultant, read_at__isnull=True).exists()
