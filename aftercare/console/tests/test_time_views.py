"""Time spent in the console: the composer's "Time spent", the sidebar panel, corrections,
the report per contract and month (HTML and CSV), and canned answers that set status and
priority."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from aftercare.accounts.roles import Role
from aftercare.desk.models import CannedAnswer, Event, Message, Priority, Status, Ticket
from aftercare.desk.tests.factories import PNG, ticket_for
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import ContractFactory, customer, staff
from aftercare.timetracking import services
from aftercare.timetracking.models import TimeEntry

pytestmark = pytest.mark.django_db


def _url(ticket: Ticket) -> str:
    return reverse("console:ticket", args=[ticket.number])


def _fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def _compose(ticket: Ticket, **extra) -> dict:
    data = {
        "action": "compose",
        "mode": "reply",
        "body": "We restarted the service.",
        "then": "",
        "version": _fresh(ticket).version,
    }
    data.update(extra)
    return data


@pytest.fixture
def contract(org):
    return ContractFactory(organisation=org, number="ALPHA-SUP")


@pytest.fixture
def req(owner, org, contract):
    return ticket_for(owner, org, subject="Invoices do not post")


# -- the composer -----------------------------------------------------------------------


def test_a_reply_with_time_spent_records_it_with_that_message(req, operator, client_for):
    response = client_for(operator).post(_url(req), _compose(req, time_spent="1h 15m"))
    assert response.status_code == 302
    entry = TimeEntry.objects.get()
    message = Message.objects.get(body="We restarted the service.")
    assert (entry.minutes, entry.message, entry.user) == (75, message, operator)
    assert entry.contract.number == "ALPHA-SUP"
    actions = list(Event.objects.filter(ticket=req).values_list("action", flat=True))
    assert actions[-2:] == ["desk.reply.added", "time.recorded"]


def test_an_internal_note_with_time_is_recorded_too(req, consultant, client_for):
    client_for(consultant).post(
        _url(req), _compose(req, mode="note", body="Checked the logs.", time_spent="45m")
    )
    entry = TimeEntry.objects.get()
    assert entry.minutes == 45 and entry.message.kind == Message.Kind.INTERNAL


def test_a_reply_without_time_records_nothing(req, operator, client_for):
    assert client_for(operator).post(_url(req), _compose(req)).status_code == 302
    assert not TimeEntry.objects.exists()


@pytest.mark.parametrize("value", ["soon", "0", "25h"])
def test_a_refused_time_keeps_the_text_and_sends_nothing(req, operator, client_for, value):
    response = client_for(operator).post(
        _url(req),
        _compose(
            req,
            time_spent=value,
            files=SimpleUploadedFile("shot.png", PNG, content_type="image/png"),
        ),
    )
    assert response.status_code == 400
    form = response.context["composer"]
    assert form.errors["time_spent"]
    page = response.content.decode()
    assert "We restarted the service." in page and f'value="{value}"' in page
    assert not Message.objects.filter(body="We restarted the service.").exists()
    assert not TimeEntry.objects.exists()


def test_the_composer_offers_time_spent(req, operator, client_for):
    page = client_for(operator).get(_url(req)).content.decode()
    assert 'name="time_spent"' in page and "e.g. 30m, 1h 15m" in page


# -- the sidebar panel ------------------------------------------------------------------


def test_the_panel_shows_the_total_per_agent_and_the_last_entries(
    req, operator, consultant, client_for
):
    message = Message.objects.filter(ticket=req).first()
    services.record(ticket=req, actor=operator, minutes=30, message=message)
    services.record(ticket=req, actor=consultant, minutes=60, note="Phone call with Cara")
    response = client_for(operator).get(_url(req))
    page = response.content.decode()
    panel = page[page.index('id="time-panel"') :]
    assert 'id="time-total">1:30<' in panel
    assert operator.display_name in panel and consultant.display_name in panel
    assert "Phone call with Cara" in panel
    assert f'href="#entry-m{message.pk}"' in panel
    # The operator corrects their own entry only.
    entries = {e.user_id: e for e in response.context["time_panel"]["entries"]}
    assert entries[operator.pk].editable and not entries[consultant.pk].editable


def test_add_time_without_a_message(req, operator, client_for):
    response = client_for(operator).post(
        reverse("console:time-add", args=[req.number]),
        {"minutes": "20m", "spent_on": "2026-01-15", "note": "Phone call"},
    )
    assert response.status_code == 302
    entry = TimeEntry.objects.get()
    assert (entry.minutes, entry.spent_on, entry.note, entry.message) == (
        20,
        date(2026, 1, 15),
        "Phone call",
        None,
    )


def test_add_time_with_a_bad_value_reshows_the_page_with_what_was_typed(req, operator, client_for):
    response = client_for(operator).post(
        reverse("console:time-add", args=[req.number]),
        {"minutes": "lots", "note": "Long call"},
    )
    assert response.status_code == 400
    assert response.context["time_panel"]["form"].errors["minutes"]
    page = response.content.decode()
    assert 'value="lots"' in page and 'value="Long call"' in page
    assert not TimeEntry.objects.exists()


def test_add_time_in_the_future_is_refused(req, operator, client_for):
    response = client_for(operator).post(
        reverse("console:time-add", args=[req.number]), {"minutes": "5", "spent_on": "2999-01-01"}
    )
    assert response.status_code == 400
    assert not TimeEntry.objects.exists()


@pytest.mark.parametrize("who", ["owner", "coordinator"])
def test_customers_get_no_time_pages(req, client_for, request, who):
    client = client_for(request.getfixturevalue(who))
    assert (
        client.post(reverse("console:time-add", args=[req.number]), {"minutes": "5"}).status_code
        == 403
    )
    assert client.get(reverse("console:time-report")).status_code == 403
    assert not TimeEntry.objects.exists()


def test_an_agent_restricted_elsewhere_gets_404(req, operator, other_org, client_for):
    entry = services.record(ticket=req, actor=operator, minutes=10)
    agent = staff(Role.OPERATOR, username="beta-only")
    AgentRestriction.objects.create(user=agent, organisation=other_org)
    client = client_for(agent)
    for url, data in (
        (reverse("console:time-add", args=[req.number]), {"minutes": "5"}),
        (reverse("console:time-edit", args=[req.number]), {"entry": entry.pk, "minutes": "5"}),
        (reverse("console:time-delete", args=[req.number]), {"entry": entry.pk}),
    ):
        assert client.post(url, data).status_code == 404
        assert client.get(url).status_code == 404
    assert TimeEntry.objects.get().minutes == 10


def test_an_agent_corrects_and_deletes_their_own_entry(req, operator, client_for):
    entry = services.record(ticket=req, actor=operator, minutes=10)
    client = client_for(operator)
    response = client.post(
        reverse("console:time-edit", args=[req.number]),
        {"entry": entry.pk, "minutes": "1:05", "spent_on": "2026-02-03", "note": "fixed typo"},
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.minutes, entry.spent_on, entry.note) == (65, date(2026, 2, 3), "fixed typo")
    response = client.post(reverse("console:time-delete", args=[req.number]), {"entry": entry.pk})
    assert response.status_code == 302
    assert not TimeEntry.objects.exists()
    assert list(
        Event.objects.filter(action__startswith="time.")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["time.recorded", "time.changed", "time.deleted"]


def test_a_refused_correction_is_shown_under_its_entry(req, operator, client_for):
    entry = services.record(ticket=req, actor=operator, minutes=10)
    response = client_for(operator).post(
        reverse("console:time-edit", args=[req.number]), {"entry": entry.pk, "minutes": "99h"}
    )
    assert response.status_code == 400
    assert response.context["time_panel"]["edit_error_id"] == entry.pk
    assert 'value="99h"' in response.content.decode()
    entry.refresh_from_db()
    assert entry.minutes == 10


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.OPERATOR, False),
        (Role.CONSULTANT, False),
        (Role.DEVELOPER, False),
        (Role.MANAGER, True),
        (Role.ADMIN, True),
    ],
)
def test_only_managers_and_administrators_correct_other_peoples_entries(
    req, operator, client_for, role, allowed
):
    entry = services.record(ticket=req, actor=operator, minutes=10)
    client = client_for(staff(role, username=f"other-{role}"))
    edit = client.post(
        reverse("console:time-edit", args=[req.number]), {"entry": entry.pk, "minutes": "30"}
    )
    assert edit.status_code == (302 if allowed else 403)
    entry.refresh_from_db()
    assert entry.minutes == (30 if allowed else 10)
    delete = client.post(reverse("console:time-delete", args=[req.number]), {"entry": entry.pk})
    assert delete.status_code == (302 if allowed else 403)
    assert TimeEntry.objects.exists() is not allowed


def test_an_entry_of_another_request_is_not_found_through_this_one(
    req, owner, org, operator, client_for
):
    other = ticket_for(owner, org, subject="Other")
    entry = services.record(ticket=other, actor=operator, minutes=10)
    response = client_for(operator).post(
        reverse("console:time-delete", args=[req.number]), {"entry": entry.pk}
    )
    assert response.status_code == 404
    assert TimeEntry.objects.exists()


# -- the report -------------------------------------------------------------------------


@pytest.fixture
def billed(owner, org, other_org, operator, consultant, contract):
    """March 2026: two requests of ALPHA-SUP (45 + 90 min), April: 15 min; Beta: 7 h."""
    first = ticket_for(owner, org, subject="First")
    second = ticket_for(owner, org, subject="Second")
    services.record(ticket=first, actor=operator, minutes=45, spent_on=date(2026, 3, 2))
    services.record(ticket=second, actor=consultant, minutes=90, spent_on=date(2026, 3, 30))
    services.record(ticket=first, actor=operator, minutes=15, spent_on=date(2026, 4, 1))
    beta_contract = ContractFactory(organisation=other_org, number="BETA-SECRET")
    beta_person = customer(other_org, username="beta-person")
    hostile = ticket_for(beta_person, other_org, subject="Beta confidential migration")
    assert hostile.contract == beta_contract
    services.record(ticket=hostile, actor=operator, minutes=420, spent_on=date(2026, 3, 10))
    return {"first": first, "second": second, "hostile": hostile}


def _report(client, **params):
    return client.get(
        reverse("console:time-report"), {"from": "2026-03", "to": "2026-04", **params}
    )


def _csv_rows(response) -> list[dict]:
    body = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_the_report_adds_up_per_contract_and_month(billed, manager, client_for):
    response = _report(client_for(manager))
    assert response.status_code == 200
    rows = {
        (r["contract__number"], r["month_label"]): r
        for r in response.context["report"].by_contract_month
    }
    march = rows[("ALPHA-SUP", "2026-03")]
    assert (march["minutes"], march["requests"], march["hm"], march["decimal"]) == (
        135,
        2,
        "2:15",
        "2.25",
    )
    assert rows[("ALPHA-SUP", "2026-04")]["minutes"] == 15
    assert rows[("BETA-SECRET", "2026-03")]["minutes"] == 420
    page = response.content.decode()
    assert "2:15" in page and "2.25" in page and "ALPHA-SUP" in page


def test_the_csv_export_has_the_totals_and_a_bom(billed, manager, client_for):
    response = _report(client_for(manager), format="csv")
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    assert "time-report-2026-03-2026-04.csv" in response["Content-Disposition"]
    rows = _csv_rows(response)
    months = {(r["contract"], r["month"]): r for r in rows if r["section"] == "contract_month"}
    assert months[("ALPHA-SUP", "2026-03")]["minutes"] == "135"
    assert months[("ALPHA-SUP", "2026-03")]["hours"] == "2:15"
    assert months[("ALPHA-SUP", "2026-03")]["hours_decimal"] == "2.25"
    assert months[("ALPHA-SUP", "2026-04")]["minutes"] == "15"
    requests = {r["request"]: r["minutes"] for r in rows if r["section"] == "request"}
    assert requests[billed["first"].number] == "60"
    total = next(r for r in rows if r["section"] == "total")
    assert total["minutes"] == str(45 + 90 + 15 + 420)
    plain = _report(client_for(manager), format="csv", bom="0")
    assert plain.content.startswith(b"section,")


def test_the_report_filters_by_month_contract_and_agent(
    billed, manager, operator, client_for, contract
):
    client = client_for(manager)
    march = _report(client, to="2026-03", contract=contract.pk)
    report = march.context["report"]
    assert report.total == 135
    assert [r["month_label"] for r in report.by_contract_month] == ["2026-03"]
    by_agent = _report(client, agent=operator.pk, contract=contract.pk).context["report"]
    assert by_agent.total == 60


def test_a_restricted_manager_sees_only_their_organisations(billed, org, client_for):
    boss = staff(Role.MANAGER, username="alpha-boss")
    AgentRestriction.objects.create(user=boss, organisation=org)
    client = client_for(boss)
    page = _report(client).content.decode()
    assert "BETA-SECRET" not in page and "Beta Logistics" not in page
    assert billed["hostile"].number not in page and "Beta confidential" not in page
    assert "ALPHA-SUP" in page
    # Asking for the other organisation or its contract by id changes nothing.
    hostile_contract = billed["hostile"].contract
    for params in (
        {"organisation": billed["hostile"].organisation_id},
        {"contract": hostile_contract.pk},
    ):
        for fmt in ({}, {"format": "csv"}):
            body = _report(client, **params, **fmt).content.decode("utf-8-sig")
            assert "BETA-SECRET" not in body and "Beta" not in body
            assert billed["hostile"].number not in body
    rows = _csv_rows(_report(client, format="csv"))
    assert next(r for r in rows if r["section"] == "total")["minutes"] == "150"
    assert all(r["organisation"] in ("", "Alpha Foods") for r in rows)


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.CONSULTANT, Role.DEVELOPER])
def test_the_report_is_for_managers_and_administrators(client_for, role):
    client = client_for(staff(role, username=f"r-{role}"))
    assert client.get(reverse("console:time-report")).status_code == 403


def test_the_reports_page_links_the_time_report(manager, client_for):
    page = client_for(manager).get(reverse("console:reports")).content.decode()
    assert reverse("console:time-report") in page


def test_the_report_query_count_does_not_grow_with_entries(
    billed, owner, org, manager, operator, client_for, django_assert_max_num_queries
):
    client = client_for(manager)
    _report(client)  # warm the session and the maintenance flag
    for n in range(15):
        t = ticket_for(owner, org, subject=f"More {n}")
        services.record(ticket=t, actor=operator, minutes=5 + n, spent_on=date(2026, 3, 5))
    with django_assert_max_num_queries(14) as ctx:
        assert _report(client).status_code == 200
    small = len(ctx.captured_queries)
    for n in range(15):
        t = ticket_for(owner, org, subject=f"Even more {n}")
        services.record(ticket=t, actor=operator, minutes=5, spent_on=date(2026, 4, 5))
    with django_assert_max_num_queries(small):
        _report(client)
    with django_assert_max_num_queries(small):
        _report(client, format="csv")


def test_the_panel_query_count_does_not_grow_with_entries(
    req, operator, client_for, django_assert_max_num_queries
):
    client = client_for(operator)
    services.record(ticket=req, actor=operator, minutes=5)
    client.get(_url(req))
    with django_assert_max_num_queries(200) as ctx:
        client.get(_url(req))
    before = len(ctx.captured_queries)
    for n in range(12):
        services.record(ticket=req, actor=operator, minutes=5 + n)
    with django_assert_max_num_queries(before):
        client.get(_url(req))


# -- canned answers that set status and priority ----------------------------------------


@pytest.fixture
def closing(db):
    return CannedAnswer.objects.create(
        title="Fixed, please confirm",
        body="Dear {{reporter.first_name}}, {{ticket.number}} is fixed.",
        set_status=Status.WAITING,
        set_priority=Priority.LOW,
    )


def test_the_canned_endpoint_says_what_the_answer_also_sets(req, operator, closing, client_for):
    data = (
        client_for(operator)
        .get(reverse("console:ticket-canned", args=[req.number]), {"answer": closing.pk})
        .json()
    )
    assert data["set_status"] == Status.WAITING
    assert data["set_status_label"] == "Waiting for customer"
    assert data["set_priority"] == Priority.LOW and data["set_priority_label"] == "Low"
    assert req.number in data["text"]


def test_sending_a_canned_answer_sets_its_priority_and_status_in_one_submit(
    req, operator, closing, client_for
):
    response = client_for(operator).post(
        _url(req),
        _compose(
            req,
            body="It is fixed.",
            then=Status.WAITING,
            canned_answer=closing.pk,
            time_spent="45m",
        ),
    )
    assert response.status_code == 302
    fresh = _fresh(req)
    assert fresh.priority == Priority.LOW and fresh.status == Status.WAITING
    assert fresh.priority_reason == "Canned answer: Fixed, please confirm"
    assert TimeEntry.objects.get().minutes == 45
    actions = list(Event.objects.filter(ticket=req).values_list("action", flat=True))
    assert actions[-4:] == [
        "desk.reply.added",
        "desk.ticket.reprioritised",
        "desk.ticket.status_changed",
        "time.recorded",
    ]


def test_a_refused_priority_refuses_the_whole_send(req, developer, closing, client_for):
    """Developers may not change priorities: nothing is sent, nothing is lost."""
    response = client_for(developer).post(
        _url(req),
        _compose(req, body="Fixed in build 42.", canned_answer=closing.pk, time_spent="30m"),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was sent" in page and "Fixed, please confirm" in page
    assert "Fixed in build 42." in page  # the text is still in the composer
    assert not Message.objects.filter(body="Fixed in build 42.").exists()
    assert not TimeEntry.objects.exists()
    assert _fresh(req).priority == Priority.NORMAL
    # Without the priority change the same text goes through.
    response = client_for(developer).post(_url(req), _compose(req, body="Fixed in build 42."))
    assert response.status_code == 302


def test_a_canned_answer_without_a_priority_changes_none(req, operator, client_for):
    plain = CannedAnswer.objects.create(title="Plain", body="Thanks", set_status=Status.DONE)
    response = client_for(operator).post(
        _url(req), _compose(req, body="Thanks", canned_answer=plain.pk)
    )
    assert response.status_code == 302
    assert _fresh(req).priority == Priority.NORMAL


def test_a_personal_canned_answer_of_someone_else_sets_nothing(
    req, operator, consultant, client_for
):
    theirs = CannedAnswer.objects.create(
        title="Theirs", body="x", set_priority=Priority.CRITICAL, shared=False, owner=consultant
    )
    response = client_for(operator).post(
        _url(req), _compose(req, body="Hi", canned_answer=theirs.pk)
    )
    assert response.status_code == 400
    assert not Message.objects.filter(body="Hi").exists()
    assert _fresh(req).priority == Priority.NORMAL
