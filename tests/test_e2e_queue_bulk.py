"""The queue in a real browser: tick rows, change them in bulk, read the report; the
views sidebar; and the page fitting a laptop and a phone in every language.

Set ``AFTERCARE_SCREENSHOTS`` to a folder to also save screenshots of the queue (1366 and
390 px wide, in English, French and Russian) for a person to look at.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from aftercare.accounts.roles import Role
from conftest import browser_sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def desk(transactional_db):
    from django.utils import timezone

    from aftercare.console.models import SavedView
    from aftercare.desk.models import Level, Priority, Status, Ticket
    from aftercare.desk.tests.factories import ticket_for
    from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

    alpha = OrganisationFactory(name="Alpha Foods", code="alpha")
    beta = OrganisationFactory(name="Beta Logistics International", code="beta")
    cara = customer(alpha, username="cara")
    bert = customer(beta, username="bert")
    otto = staff(Role.OPERATOR, username="otto", first_name="Otto", last_name="Operator")
    cora = staff(Role.CONSULTANT, username="cora", first_name="Cora", last_name="Consultant")
    mara = staff(Role.MANAGER, username="mara", first_name="Mara", last_name="Manager")
    now = timezone.now()
    subjects = [
        ("Invoice posting fails after the month-end closing run", alpha, cara),
        ("Printer queue stuck", alpha, cara),
        ("Stock levels are wrong in the warehouse report", beta, bert),
        ("VAT export rejected by the tax office portal", alpha, cara),
        ("New user for the Cluj office", beta, bert),
        ("Payroll rounding differs by one cent", alpha, cara),
        ("Courier labels print twice", beta, bert),
        ("Slow search in the customer list", alpha, cara),
    ]
    tickets = []
    for i, (subject, org, who) in enumerate(subjects):
        t = ticket_for(who, org, subject=subject)
        Ticket.objects.filter(pk=t.pk).update(
            priority=[Priority.CRITICAL, Priority.HIGH, Priority.NORMAL, Priority.LOW][i % 4],
            status=[Status.BACKLOG, Status.IN_PROGRESS, Status.WAITING, Status.SPRINT][i % 4],
            level=Level.L2 if i % 3 == 0 else Level.L1,
            assignee=[None, otto, cora, None][i % 4],
            sla_state="ok" if i % 4 != 2 else "paused",
            sla_due_at=None if i % 4 == 2 else now + timedelta(minutes=25 + 90 * i),
        )
        tickets.append(t)
    SavedView.objects.create(
        name="Critical at L2", owner=mara, is_shared=True, query="priority=1&level=2"
    )
    SavedView.objects.create(
        name="Beta, by SLA", owner=otto, query=f"organisation={beta.pk}", sort="sla"
    )
    return {"tickets": tickets, "otto": otto, "cora": cora, "alpha": alpha}


def _fits(page) -> None:
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {page.viewport_size}"
    if page.viewport_size["width"] >= 1000:
        # On a laptop not even the list's own box scrolls: every column is in sight.
        inner = page.evaluate(
            "() => { const w = document.querySelector('.table-wrap');"
            " return w.scrollWidth - w.clientWidth; }"
        )
        assert inner <= 0, f"the list scrolls sideways by {inner}px at {page.viewport_size}"


def test_it_changes_ticked_rows_in_bulk_and_reports_each(desk, live_server, browser):
    from playwright.sync_api import expect

    from aftercare.desk.models import Ticket

    context, page = browser_sign_in(browser, live_server.url, "otto", viewport=LAPTOP)
    page.goto(f"/console/?organisation={desk['alpha'].pk}")
    rows = page.locator("#queue tbody tr")
    expect(rows).to_have_count(5)
    bar = page.locator("[data-bulk-bar]")
    expect(bar).to_be_hidden()
    rows.nth(0).locator("input[name=tickets]").check()
    rows.nth(1).locator("input[name=tickets]").check()
    expect(bar).to_be_visible()
    expect(bar.locator("[data-bulk-count]")).to_have_text("2 selected")
    # "x" on the focused row ticks it as well.
    rows.nth(2).locator("td.col-subject a").focus()
    page.keyboard.press("x")
    expect(bar.locator("[data-bulk-count]")).to_have_text("3 selected")
    page.keyboard.press("x")
    expect(bar.locator("[data-bulk-count]")).to_have_text("2 selected")
    picked = [rows.nth(i).locator("td.col-number").inner_text() for i in (0, 1)]
    bar.locator("select[name=action]").select_option("assign")
    expect(bar.locator("select[name=target]")).to_be_hidden()
    bar.locator("select[name=assignee]").select_option(label="Cora Consultant")
    _fits(page)
    bar.get_by_role("button", name="Apply").click()
    expect(page.locator(".messages")).to_contain_text("Changed: 2. Refused: 0.")
    for number in picked:
        expect(page.locator(".messages")).to_contain_text(f"{number}: assigned to Cora Consultant")
    # Back on the same filtered queue, counts and all.
    assert f"organisation={desk['alpha'].pk}" in page.url
    assert set(
        Ticket.objects.filter(number__in=picked).values_list("assignee__username", flat=True)
    ) == {"cora"}
    expect(page.locator("[data-bulk-bar]")).to_be_hidden()
    # Select all, then a priority change without a reason is stopped in the browser.
    page.locator("#queue [data-select-all]").check()
    expect(bar.locator("[data-bulk-count]")).to_have_text("5 selected")
    bar.locator("select[name=action]").select_option("priority")
    expect(bar.locator("input[name=reason]")).to_be_visible()
    assert bar.locator("input[name=reason]").evaluate("el => el.required")
    context.close()


def test_it_sorts_by_clicking_a_header_and_marks_the_view(desk, live_server, browser):
    from playwright.sync_api import expect

    context, page = browser_sign_in(browser, live_server.url, "otto", viewport=LAPTOP)
    page.goto("/console/")
    page.locator("#queue th.col-priority a").click()
    page.wait_for_url("**sort=priority**")
    expect(page.locator("#queue th.col-priority")).to_have_attribute("aria-sort", "ascending")
    badges = page.locator("#queue tbody td.col-priority").all_inner_texts()
    assert badges[0] == "Critical"
    page.locator("#queue th.col-priority a").click()
    page.wait_for_url("**sort=-priority**")
    expect(page.locator("#queue th.col-priority")).to_have_attribute("aria-sort", "descending")
    # The sidebar: "Mine" opens the operator's own requests and is marked.
    page.locator("#queue-sidebar a.view-link", has_text="Mine").click()
    page.wait_for_url("**assignee=me**")
    expect(page.locator("#queue-sidebar a[aria-current=page]")).to_contain_text("Mine")
    expect(page.locator("#queue tbody tr")).to_have_count(2)
    # Changing a filter in place (htmx) moves the marker too.
    page.locator("form.filters select[name=assignee]").select_option("none")
    expect(page.locator("#queue-sidebar a[aria-current=page]")).to_contain_text("Unassigned")
    context.close()


@pytest.mark.parametrize("language", ["en", "ro", "fr", "uk", "ru"])
def test_it_fits_a_laptop_and_a_phone(desk, live_server, browser, language):
    from playwright.sync_api import expect

    from aftercare.accounts.models import User

    shots = os.environ.get("AFTERCARE_SCREENSHOTS")
    for name, viewport in (("1366", LAPTOP), ("390", PHONE)):
        # Signed in wide (the phone's top bar folds "Sign out" into its menu), then resized.
        context, page = browser_sign_in(browser, live_server.url, "otto", viewport=LAPTOP)
        User.objects.filter(username="otto").update(language=language)
        page.set_viewport_size(viewport)
        page.goto("/console/")
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator("#queue tbody tr")).to_have_count(8)
        _fits(page)
        if viewport is PHONE:
            expect(page.locator("[data-views] summary")).to_be_visible()
        page.locator("#queue tbody tr").nth(1).locator("input[name=tickets]").check()
        page.locator("#queue tbody tr").nth(3).locator("input[name=tickets]").check()
        expect(page.locator("[data-bulk-bar]")).to_be_visible()
        _fits(page)
        if shots and language in ("en", "fr", "ru"):
            folder = Path(shots)
            folder.mkdir(parents=True, exist_ok=True)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(folder / f"queue-{language}-{name}.png"), full_page=True)
            if viewport is PHONE:
                page.locator("[data-views] summary").click()
                page.screenshot(path=str(folder / f"queue-{language}-{name}-views.png"))
        User.objects.filter(username="otto").update(language="en")  # the next sign-in
        context.close()
