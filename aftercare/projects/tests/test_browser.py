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
    from django.utils import timezone
    from playwright.sync_api import expect

    from aftercare.projects import services
    from aftercare.projects.defaults import BACKUP_CRITERION, ensure_default
    from aftercare.projects.models import Decision, Project
    from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

    ensure_default()  # a transactional test may have flushed the migration's rows
    org = OrganisationFactory(name="Alpha Foods", code="alpha")
    customer(org, username="cara", first_name="Cara", last_name="Customer")
    coordinator = customer(org, role=Role.COORDINATOR, username="cora")
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
    # (a record of the past: a date in the future is refused)
    informed.locator("input[name=on]").fill(timezone.localdate().isoformat())
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

    # "Go" needs the plan signed by both sides: the manager here, the coordinator in the
    # portal (walked in the test below; done through the service here).
    page.locator("#sign-plan-form").get_by_role("button", name="Sign the plan").click()
    expect(page.locator(".messages .msg-success")).to_contain_text("Signed for the vendor")
    services.sign_off(project=project, actor=coordinator, kind="plan")

    # The decision: go, with the participant.
    decision = page.locator("#decision-form")
    decision.locator("select[name=outcome]").select_option("go")
    decision.locator("input[name=decided_on]").fill("2030-05-28")
    decision.get_by_label(re.compile("Cara Customer")).check()
    decision.locator("textarea[name=reasons]").fill("All tests passed; no open incidents.")
    decision.get_by_role("button", name="Record decision").click()
    expect(page.locator(".messages .msg-success")).to_contain_text("Decision recorded: Go live")
    expect(page.locator("#decisions .outcome")).to_have_text("Go live")
    page.locator("#sign-decision-form").get_by_role("button", name="Co-sign the decision").click()
    expect(page.locator(".messages .msg-success")).to_contain_text("Go/no-go decision")
    services.sign_off(project=project, actor=coordinator, kind="decision")
    page.reload()
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


def test_go_live_with_sign_offs_in_the_portal_from_template_to_go_live(
    transactional_db, live_server, browser
):
    """The vendor's manager and the customer's coordinator, each in their own browser:
    plan from the template, the vendor signs, the coordinator signs in the portal, a test
    session is scheduled, its incident is closed, both sign "go", the go-live stage closes.
    """
    from django.urls import reverse
    from django.utils import timezone
    from playwright.sync_api import expect

    from aftercare.desk import services as desk
    from aftercare.projects.defaults import ensure_default
    from aftercare.projects.models import Project, SignOff
    from aftercare.projects.tests.factories import close_through
    from aftercare.tenancy.models import ContactPerson
    from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

    ensure_default()
    org = OrganisationFactory(name="Alpha Foods", code="alpha")
    customer(org, username="cara", first_name="Cara", last_name="Customer")
    customer(org, role=Role.COORDINATOR, username="cora", first_name="Cora", last_name="Coord")
    ContactPerson.objects.create(organisation=org, name="Ioana IT", role="IT manager")
    mara = staff(Role.MANAGER, username="mara", first_name="Mara", last_name="Manager")
    staff(Role.CONSULTANT, username="cole", first_name="Cole", last_name="Consultant")
    today = timezone.localdate().isoformat()  # the go-live is today: its stage may close

    # The vendor: a plan from the template, the people on it, the vendor's signature.
    ctx, page = _sign_in(browser, live_server.url, "mara")
    page.goto(reverse("projects:new"))
    form = page.locator("#project-form")
    form.locator("#id_organisation").select_option(label="Alpha Foods")
    form.locator("#id_name").fill("Alpha WMS go-live")
    form.locator("#id_go_live_on").fill(today)
    form.locator("#id_template").select_option(label="Go-live plan")
    form.get_by_role("button", name="Create project").click()
    expect(page.locator(".messages .msg-success")).to_contain_text("created")
    project = Project.objects.get(name="Alpha WMS go-live")
    page.locator("#people summary").click()
    people = page.locator("#people-form")
    people.locator("select[name=technical_coordinator]").select_option(label="Cole Consultant")
    people.locator("select[name=customer_responsible]").select_option(label="Cora Coord")
    people.get_by_role("button", name="Save coordinators").click()
    expect(page.locator("#technical-coordinator")).to_have_text("Cole Consultant")
    expect(page.locator("#customer-responsible")).to_have_text("Cora Coord")
    page.locator("#sign-plan-form").get_by_role("button", name="Sign the plan").click()
    expect(page.locator(".messages .msg-success")).to_contain_text("Signed for the vendor")
    expect(page.locator("#signoffs .signoff-vendor").first).to_contain_text("signed v1")
    expect(page.locator("#signoffs .signoff-customer").first).to_contain_text("not signed")

    # The customer's coordinator signs the same version in the portal.
    cctx, cpage = _sign_in(browser, live_server.url, "cora")
    cpage.goto(reverse("project_portal:detail", args=[project.pk]))
    expect(cpage.locator("#technical-coordinator")).to_have_text("Cole Consultant")
    expect(cpage.locator("#signoffs .signoff-vendor").first).to_contain_text("signed v1")
    cpage.locator("#sign-plan-form textarea[name=note]").fill("Agreed with our board")
    cpage.locator("#sign-plan-form").get_by_role("button", name="Sign the plan").click()
    expect(cpage.locator(".messages .msg-success")).to_contain_text("Signed for Alpha Foods")
    expect(cpage.locator("#signoffs .signoff-customer").first).to_contain_text("signed v1")
    expect(cpage.locator("#sign-plan-form")).to_have_count(0)  # signed: no second button

    # The vendor schedules the test session; the customer sees it in their time zone.
    page.reload()
    session = page.locator("#session-form")
    session.locator("input[name=title]").fill("Go-live rehearsal")
    session.locator("input[name=on]").fill(today)
    session.locator("input[name=starts]").fill("09:00")
    session.locator("input[name=ends]").fill("11:30")
    session.get_by_label("Cole Consultant").check()
    session.get_by_label("Ioana IT (IT manager)").check()
    session.get_by_role("button", name="Schedule test session").click()
    expect(page.locator(".messages .msg-success")).to_contain_text("scheduled")
    expect(page.locator("#session-list")).to_contain_text("Go-live rehearsal")
    cpage.reload()
    expect(cpage.locator("#session-list")).to_contain_text("09:00–11:30")
    expect(cpage.locator("#session-list")).to_contain_text("Ioana IT")

    # Stages 1-6 (the test above clicks through them) and an incident of the session.
    close_through(project, mara, 6)
    page.reload()
    incident = page.locator("#incident-form")
    incident.locator("input[name=subject]").fill("Scanner login fails")
    incident.locator("select[name=reporter]").select_option(label="Cara Customer")
    incident.locator("textarea[name=description]").fill("Seen in the rehearsal")
    incident.get_by_role("button", name="Open incident").click()
    expect(page.locator("#incidents h2 .badge")).to_contain_text("1 open")
    ticket = project.incidents.get().ticket
    desk.transition(ticket=ticket, actor=mara, target="rejected", reason="Wrong password")
    page.reload()
    expect(page.locator("#incidents h2 .badge")).to_have_count(0)

    # "Go", co-signed by both sides.
    decision = page.locator("#decision-form")
    decision.locator("select[name=outcome]").select_option("go")
    decision.locator("input[name=decided_on]").fill(today)
    decision.get_by_label("Key User (Customer)").check()
    decision.locator("textarea[name=reasons]").fill("Rehearsal passed, no open incidents.")
    decision.get_by_role("button", name="Record decision").click()
    expect(page.locator(".messages .msg-success")).to_contain_text("Decision recorded: Go live")
    page.locator("#sign-decision-form").get_by_role("button", name="Co-sign the decision").click()
    expect(page.locator("#decision-signoffs .signoff-vendor")).to_contain_text("co-signed")
    expect(page.locator("#sign-decision-form")).to_have_count(0)
    page.locator("#stage-7").get_by_role("button", name="Close stage").click()
    expect(page.locator(".messages .msg-error")).to_contain_text("Customer side has not co-signed")
    cpage.reload()
    cpage.locator("#sign-decision-form").get_by_role("button", name="Co-sign the decision").click()
    expect(cpage.locator(".messages .msg-success")).to_contain_text("Go/no-go decision")
    expect(cpage.locator("#decision-signoffs .signoff-customer")).to_contain_text("co-signed")

    # The decision stage and the go-live stage close.
    page.reload()
    _tick_all_and_close(page, 7)
    _tick_all_and_close(page, 8)
    page.screenshot(path="/tmp/e2e-golive-signoffs.png", full_page=True)
    cctx.close()
    ctx.close()

    assert not project.stages.filter(closed_at__isnull=True).exists()
    rows = SignOff.objects.filter(project=project)
    assert sorted((r.kind, r.side, r.plan_version) for r in rows) == [
        ("decision", "customer", 1),
        ("decision", "vendor", 1),
        ("plan", "customer", 1),
        ("plan", "vendor", 1),
    ]
    assert rows.get(kind="plan", side="customer").note == "Agreed with our board"
    assert project.test_sessions.get().contact_attendees.get().name == "Ioana IT"
