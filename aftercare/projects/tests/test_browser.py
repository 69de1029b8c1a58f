"""A go-live plan walked in a real browser, from the template to the "go" decision.

A support manager creates the project from the default template, is refused when closing
a stage whose gate criteria are open, ticks the checklists and closes the stages in
order, registers a participant and records their credentials and login test, takes the
test session (backup first) and records the "go" decision.

Debian's headless Chromium (``/usr/bin/chromium``) through Playwright's sync API against
pytest-django's live server, as ``tests/test_e2e_browser.py`` does.
"""

from __future__ import annotations

import re

import pytest

from aftercare.accounts.roles import Role
from conftest import browser_sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]


def _sign_in(browser, base_url: str, username: str):
    return browser_sign_in(browser, base_url, username)


def _tick_all_and_close(page, position: int) -> None:
    from playwright.sync_api import expect

    section = page.locator(f"#stage-{position}")
    boxes = section.locator(".criteria-form input[name=met]")
    for i in range(boxes.count()):
        boxes.nth(i).check()
    section.get_by_role("button", name="Save checklist").click()
    expect(page.locator(".messages .msg-success")).to_contain_text("Checklist saved")
    page.locator(f"#stage-{position}").get_by_role("button", name="Close stage").click()
    expect(page.locator(".messages .msg-success")).to_contain_text("closed.")
    expect(page.locator(f"#stage-{position} h2 .badge")).to_have_text("closed")


def test_go_live_plan_from_template_to_decision(transactional_db, live_server, browser):
    from playwright.sync_api import expect

    from aftercare.projects.defaults import BACKUP_CRITERION, ensure_default
    from aftercare.projects.models import Decision, Project
    from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

    ensure_default()  # a transactional test may have flushed the migration's rows
    org = OrganisationFactory(name="Alpha Foods", code="alpha")
    customer(org, username="cara", first_name="Cara", last_name="Customer")
    staff(Role.MANAGER, username="mara", first_name="Mara", last_name="Manager")

    ctx, page = _sign_in(browser, live_server.url, "mara")
    page.locator("nav.mainnav .nav-more > summary").click()  # rarely used links wait in "More"
    page.locator("nav.mainnav").get_by_role("link", name="Go-live projects").click()
    page.get_by_role("link", name="New project from template").click()
    form = page.locator("#project-form")
    form.locator("#id_organisation").select_option(label="Alpha Foods")
    form.locator("#id_name").fill("Alpha ERP go-live")
    form.locator("#id_go_live_on").fill("2030-06-01")
    form.locator("#id_template").select_option(label="Go-live plan")
    form.get_by_role("button", name="Create project").click()
    expect(page.locator(".messages .msg-success")).to_contain_text("created")
    expect(page.locator("h1")).to_contain_text("Alpha ERP go-live")
    expect(page.locator("section.stage")).to_have_count(8)
    expect(page.locator("#notice-warning")).to_contain_text("not been informed")
    project = Project.objects.get(name="Alpha ERP go-live")

    # Closing with open gate criteria is refused, with the reason.
    first = page.locator("#stage-1")
    first.locator(".criteria-form input[name=met]").first.check()
    first.get_by_role("button", name="Save checklist").click()
    expect(page.locator(".messages .msg-success")).to_contain_text("Checklist saved")
    page.locator("#stage-1").get_by_role("button", name="Close stage").click()
    expect(page.locator(".messages .msg-error")).to_contain_text("Gate criteria still open")
    expect(page.locator("#stage-1 h2 .badge")).to_have_text("open")

    # A later stage cannot close before the earlier ones.
    page.locator("#stage-2").get_by_role("button", name="Close stage").click()
    expect(page.locator(".messages .msg-error")).to_contain_text("must be closed first")

    for position in range(1, 6):
        _tick_all_and_close(page, position)

    # The users were told in time: the warning goes.
    informed = page.locator("#informed-form")
    informed.locator("input[name=on]").fill("2030-04-01")
    informed.get_by_role("button", name="Record users informed").click()
    expect(page.locator("#notice-warning")).to_have_count(0)

    # A participant: a customer's key user, credentials received.
    participant_form = page.locator("#participant-form")
    participant_form.locator("select[name=user]").select_option(label="Cara Customer")
    participant_form.locator("select[name=side]").select_option("customer")
    participant_form.locator("input[name=role]").fill("Key user")
    participant_form.get_by_role("button", name="Add participant").click()
    row = page.locator("#participants tr[data-participant='Cara Customer']")
    expect(row).to_be_visible()
    row.locator(".mark-credentials").get_by_role("button", name="Received").click()
    expect(page.locator(".messages .msg-success")).to_contain_text("Recorded for Cara Customer")

    # The test session: the backup first; the logins gate is computed from participants.
    session = page.locator("#stage-6")
    session.locator(".criteria-form li", has_text="Credentials distributed").locator(
        "input"
    ).check()
    session.get_by_role("button", name="Save checklist").click()
    expect(page.locator(".messages .msg-error")).to_contain_text(
        f"“{BACKUP_CRITERION}” must be met before"
    )
    session = page.locator("#stage-6")
    boxes = session.locator(".criteria-form input[name=met]")
    for i in range(boxes.count()):
        boxes.nth(i).check()
    session.get_by_role("button", name="Save checklist").click()
    expect(page.locator(".messages .msg-error")).to_contain_text("not tested yet: Cara Customer")

    row = page.locator("#participants tr[data-participant='Cara Customer']")
    row.locator(".mark-login").get_by_role("button", name="Login tested").click()
    expect(page.locator(".messages .msg-success")).to_contain_text("Recorded for Cara Customer")
    expect(
        page.locator("#participants tr[data-participant='Cara Customer'] .mark-login")
    ).not_to_contain_text("—")
    _tick_all_and_close(page, 6)

    # The decision: go, with the participant.
    decision = page.locator("#decision-form")
    decision.locator("select[name=outcome]").select_option("go")
    decision.locator("input[name=decided_on]").fill("2030-05-28")
    decision.get_by_label(re.compile("Cara Customer")).check()
    decision.locator("textarea[name=reasons]").fill("All tests passed; no open incidents.")
    decision.get_by_role("button", name="Record decision").click()
    expect(page.locator(".messages .msg-success")).to_contain_text("Decision recorded: Go live")
    expect(page.locator("#decisions .outcome")).to_have_text("Go live")
    _tick_all_and_close(page, 7)
    page.screenshot(path="/tmp/e2e-golive-plan.png", full_page=True)
    ctx.close()

    project.refresh_from_db()
    assert list(
        project.stages.filter(closed_at__isnull=False).values_list("position", flat=True)
    ) == [
        1,
        2,
        3,
        4,
        5,
        6,
        7,
    ]
    decision = Decision.objects.get(project=project)
    assert decision.outcome == Decision.Outcome.GO
    assert [p.name for p in decision.participants.all()] == ["Cara Customer"]
    assert project.participants.get().login_tested_at is not None
