"""Time spent and canned answers in a real browser: a Ukrainian canned answer inserted by a
Ukrainian-speaking agent fills its placeholders, proposes its move and priority, is sent
with 45 minutes, and the time report's CSV adds the month up per contract."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from aftercare.accounts.roles import Role
from conftest import browser_sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]


@pytest.fixture
def billing(transactional_db):
    from django.utils import timezone

    from aftercare.desk.models import CannedAnswer, Priority, Status
    from aftercare.desk.tests.factories import ticket_for
    from aftercare.tenancy.tests.factories import (
        ContractFactory,
        OrganisationFactory,
        customer,
        staff,
    )
    from aftercare.timetracking import services

    org = OrganisationFactory(name="Альфа Фудс", code="alpha")
    contract = ContractFactory(organisation=org, number="ALPHA-SUP")
    reporter = customer(org, username="cara", first_name="Cara", last_name="Client")
    ticket = ticket_for(reporter, org, subject="Invoices do not post")
    other = ticket_for(reporter, org, subject="Reports are slow")
    # The manager answers in the browser and reads the report; a colleague billed before.
    olena = staff(Role.MANAGER, username="olena", first_name="Олена", last_name="Петренко")
    otto = staff(Role.OPERATOR, username="otto", first_name="Otto", last_name="Operator")
    today = timezone.localdate()
    services.record(ticket=other, actor=otto, minutes=30, spent_on=today)
    last_month = today.replace(day=1) - timedelta(days=1)
    services.record(ticket=other, actor=otto, minutes=20, spent_on=last_month)
    answer = CannedAnswer.objects.create(
        title="Чекаємо журнал",
        language="uk",
        body=(
            "Добрий день, {{customer.name}}! Щодо запиту {{ticket.number}}: надішліть, "
            "будь ласка, журнал помилок. З повагою, {{agent.first_name}}"
        ),
        set_status=Status.WAITING,
        set_priority=Priority.HIGH,
    )
    return {
        "ticket": ticket,
        "other": other,
        "contract": contract,
        "olena": olena,
        "answer": answer,
        "today": today,
        "last_month": last_month,
    }


def test_a_ukrainian_canned_answer_with_time_adds_up_in_the_report(billing, live_server, browser):
    from django.utils import translation
    from playwright.sync_api import expect

    from aftercare.desk.models import Message, Priority, Status, Ticket
    from aftercare.timetracking.models import TimeEntry

    ticket, olena = billing["ticket"], billing["olena"]
    # Sign in (in English, as the helper expects), then work in Ukrainian.
    context, page = browser_sign_in(browser, live_server.url, "olena")
    olena.language = "uk"
    olena.save(update_fields=["language"])
    page.goto(f"/console/tickets/{ticket.number}/")
    expect(page.locator("html")).to_have_attribute("lang", "uk")

    page.locator("#canned-picker").select_option(str(billing["answer"].pk))
    body = page.locator("#composer textarea[name=body]")
    expected = (
        f"Добрий день, Альфа Фудс! Щодо запиту {ticket.number}: надішліть, будь ласка, "
        "журнал помилок. З повагою, Олена"
    )
    expect(body).to_have_value(expected)
    # The answer's move becomes the main button; its priority is announced.
    expect(page.locator("#composer button.send-btn")).to_have_attribute("value", Status.WAITING)
    note = page.locator("#composer [data-canned-note]")
    expect(note).to_be_visible()
    with translation.override("uk"):
        expect(note).to_contain_text(str(Priority.HIGH.label))
    assert page.locator("#composer [data-canned-answer]").input_value() == str(billing["answer"].pk)

    page.locator("#composer input[name=time_spent]").fill("45m")
    page.locator("#composer button.send-btn").click()
    expect(page.locator(".msg-success")).to_be_visible()

    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.status == Status.WAITING and fresh.priority == Priority.HIGH
    message = Message.objects.get(ticket=ticket, body=expected)
    entry = TimeEntry.objects.get(ticket=ticket)
    assert (entry.minutes, entry.message_id, entry.contract_id) == (
        45,
        message.pk,
        billing["contract"].pk,
    )
    expect(page.locator("#time-total")).to_have_text("0:45")

    # The report's CSV for this month and contract: 45 + 30 on two requests; last
    # month's 20 minutes are not in this month's row.
    month = f"{billing['today']:%Y-%m}"
    response = context.request.get(
        f"/console/reports/time/?from={month}&to={month}"
        f"&contract={billing['contract'].pk}&format=csv"
    )
    assert response.ok
    raw = response.body()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    months = [r for r in rows if r["section"] == "contract_month"]
    assert len(months) == 1
    row = months[0]
    assert (row["month"], row["contract"], row["minutes"], row["hours"], row["hours_decimal"]) == (
        month,
        "ALPHA-SUP",
        "75",
        "1:15",
        "1.25",
    )
    assert row["entries"] == "2"
    total = next(r for r in rows if r["section"] == "total")
    assert total["minutes"] == "75"
    # Both months together: last month has its own row.
    earlier = f"{billing['last_month']:%Y-%m}"
    both = context.request.get(
        f"/console/reports/time/?from={earlier}&to={month}"
        f"&contract={billing['contract'].pk}&format=csv&bom=0"
    )
    rows = list(csv.DictReader(io.StringIO(both.body().decode("utf-8"))))
    per_month = {r["month"]: r["minutes"] for r in rows if r["section"] == "contract_month"}
    assert per_month == {earlier: "20", month: "75"}

    # The report page itself, in Ukrainian.
    page.goto(f"/console/reports/time/?from={month}&to={month}")
    expect(page.locator("#time-by-contract")).to_contain_text("ALPHA-SUP")
    expect(page.locator("#time-by-contract")).to_contain_text("1:15")
    context.close()
