"""The portal on a phone and the top bar on a laptop, in a real browser, in every language.

At 390×844 (a phone) a customer reaches everything through the menu button, files a
request, replies, accepts one released request and reopens another with a reason, and no
page is wider than the screen. At 1366×900 (and 1000×800) the top bar is one line for the
portal and for the console as an administrator, whatever the language.

Set ``AFTERCARE_SCREENSHOTS`` to a folder to keep a screenshot of every portal page.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest

from aftercare.accounts.roles import Role
from conftest import TEST_PASSWORD, browser_sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

LANGUAGES = ["en", "ro", "fr", "uk", "ru"]
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}
SMALL_LAPTOP = {"width": 1000, "height": 800}
PORTAL_PAGES = {
    "list": "/portal/",
    "new": "/portal/new/",
    "approvals": "/portal/approvals/",
    "systems": "/portal/environments/",
    "projects": "/portal/projects/",
    "migrations": "/portal/migrations/",
    "reports": "/portal/reports/",
}
NAMES = {path: name for name, path in PORTAL_PAGES.items()} | {"/console/board/": "board"}
SHOTS = os.environ.get("AFTERCARE_SCREENSHOTS", "")

# Every element of the top bar (and of its nav) starts on the first line.
ONE_LINE = """() => {
  const bar = document.querySelector('.topbar');
  const visible = els => [...els].filter(el => el.offsetParent !== null);
  const links = visible(bar.querySelector('.mainnav').children);
  const limit = links[0].getBoundingClientRect().bottom - 2;
  const below = links.filter(el => el.getBoundingClientRect().top >= limit)
    .map(el => el.className || el.tagName);
  const tall = visible(bar.children).filter(el => el.getBoundingClientRect().height > 48)
    .map(el => (el.className || el.tagName) + ':' + Math.round(el.getBoundingClientRect().height));
  return {height: bar.getBoundingClientRect().height, below, tall};
}"""
OVERFLOW = """() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
  wide: [...document.querySelectorAll('body *')].filter(el => {
    const r = el.getBoundingClientRect(); return r.width > 0 && r.right > window.innerWidth + 1;
  }).slice(0, 5).map(el => el.tagName + '.' + el.className)})"""


class Errors:
    """Console errors and uncaught exceptions of a page."""

    def __init__(self, page) -> None:
        self.seen: list[str] = []
        page.on("console", lambda m: self.seen.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.seen.append(str(e)))


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _no_overflow(page, where: str) -> None:
    found = page.evaluate(OVERFLOW)
    assert found["scroll"] <= found["inner"], (where, found)


def _one_line(page, where: str) -> None:
    found = page.evaluate(ONE_LINE)
    if found["below"] or found["tall"]:
        _shot(page, "failed-" + re.sub(r"\W+", "-", where))
    assert found["below"] == [] and found["tall"] == [] and found["height"] < 70, (where, found)


def _open_menu(page):
    from playwright.sync_api import expect

    toggle = page.locator("[data-nav-toggle]")
    expect(toggle).to_be_visible()
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")


def _switch_language(page, code: str, *, phone: bool) -> None:
    if phone:
        _open_menu(page)
    with page.expect_navigation():
        page.locator("#lang-select").select_option(code)
    assert page.locator("html").get_attribute("lang") == code


@pytest.fixture
def cast(transactional_db):
    from aftercare.desk import services
    from aftercare.desk.models import Category, Status
    from aftercare.desk.tests.factories import ticket_for
    from aftercare.lifecycle.tests.factories import landscape
    from aftercare.projects import services as projects
    from aftercare.projects.defaults import ensure_default
    from aftercare.projects.models import PlanTemplate
    from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

    org = OrganisationFactory(name="Alpha Foods International Distribution", code="alpha")
    cara = customer(
        org,
        role=Role.COORDINATOR,
        username="cara",
        first_name="Caroline-Alexandra",
        last_name="Customer-Longname",
        email="cara@alpha.example",
    )
    conrad = staff(Role.CONSULTANT, username="conrad", first_name="Conrad", last_name="Consult")
    mara = staff(Role.MANAGER, username="mara", first_name="Mara", last_name="Manager")
    staff(Role.ADMIN, username="ada", first_name="Ada", last_name="Administrator")
    landscape(org)
    ensure_default()
    projects.create_project(
        actor=mara,
        organisation=org,
        name="Alpha ERP go-live",
        go_live_on=date(2030, 6, 1),
        template=PlanTemplate.objects.get(is_default=True),
    )
    released = {}
    for code in LANGUAGES:
        for kind, category in (("accept", Category.INCIDENT), ("reopen", Category.CONSULTATION)):
            ticket = ticket_for(
                cara,
                org,
                category=category,
                subject=f"{kind} {code}: the invoice printout cuts off the last line of every page",
            )
            for target in (Status.IN_PROGRESS, Status.DONE, Status.RELEASED):
                services.transition(ticket=ticket, actor=conrad, target=target)
            released[kind, code] = ticket.number
    from aftercare.desk import approvals

    approvals.request(
        ticket=ticket,
        actor=conrad,
        action="Restore last night's backup of the test database over the current one.",
    )
    return {"released": released, "org": org}


def test_a_customer_uses_the_portal_on_a_phone_in_every_language(cast, live_server, browser):
    from playwright.sync_api import expect

    from aftercare.desk.models import Message, Status, Ticket

    context, page = browser_sign_in(browser, live_server.url, "cara")
    errors = Errors(page)
    page.set_viewport_size(PHONE)
    page.goto("/portal/")
    for code in LANGUAGES:
        _switch_language(page, code, phone=True)
        # The menu is closed on every new page; Sign out sits behind the menu button.
        page.goto("/portal/")
        signout = page.locator(".topbar .signout button")
        expect(signout).to_be_hidden()
        _open_menu(page)
        expect(signout).to_be_visible()
        expect(page.locator("#nav-approvals .nav-count")).to_contain_text("1")
        page.keyboard.press("Escape")
        expect(page.locator("[data-nav-toggle]")).to_have_attribute("aria-expanded", "false")
        expect(signout).to_be_hidden()

        pages = {**PORTAL_PAGES, "detail": f"/portal/requests/{cast['released']['accept', code]}/"}
        for name, path in pages.items():
            response = page.goto(path)
            assert response is not None and response.status == 200, path
            _no_overflow(page, f"{code} {path}")
            _shot(page, f"{name}-{code}-390")
        _open_menu(page)
        _shot(page, f"menu-{code}-390")

        # File a new request from the menu.
        page.locator(".mainnav").get_by_role("link", name=_label(code, "New request")).click()
        form = page.locator("#request-form")
        form.locator("#id_category").select_option("incident")
        form.locator("#id_subject").fill(f"Phone request {code}")
        form.locator("#id_description").fill("The scanner beeps twice and shows nothing.")
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/portal/requests/[^/]+/$"))
        _no_overflow(page, f"{code} new request page")
        number = Ticket.objects.get(subject=f"Phone request {code}").number

        # Reply to it.
        page.locator("#reply-form textarea[name=body]").fill(f"One more detail ({code}).")
        page.locator("#reply-form button[type=submit]").click()
        expect(page.locator("#timeline")).to_contain_text(f"One more detail ({code}).")
        assert Message.objects.filter(ticket__number=number, body__contains=code).exists()

        # Accept one released request with the big button.
        accept = cast["released"]["accept", code]
        page.goto(f"/portal/requests/{accept}/")
        button = page.locator("#accept-button")
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box is not None and box["width"] >= 300, box  # full width, easy to hit
        button.click()
        expect(page.locator("#decision")).to_have_count(0)
        assert Ticket.objects.get(number=accept).status == Status.ARCHIVED

        # Reopen another: the button reveals a required reason.
        reopen = cast["released"]["reopen", code]
        page.goto(f"/portal/requests/{reopen}/")
        reason = page.locator("#reopen-reason")
        expect(reason).to_be_hidden()
        page.locator("#reopen-button").click()
        expect(reason).to_be_visible()
        _shot(page, f"reopen-{code}-390")
        page.locator("#reopen-form button[type=submit]").click()  # empty: the browser asks
        assert Ticket.objects.get(number=reopen).status == Status.RELEASED
        reason.fill(f"Still cut off on page 2 ({code}).")
        page.locator("#reopen-form button[type=submit]").click()
        expect(page.locator("#reopen")).to_have_count(0)
        ticket = Ticket.objects.get(number=reopen)
        assert ticket.status == Status.IN_PROGRESS
        assert ticket.events.filter(note=f"Still cut off on page 2 ({code}).").exists()
        _no_overflow(page, f"{code} reopened")

    _switch_language(page, "en", phone=True)
    _open_menu(page)
    page.locator(".topbar .signout button").click()
    expect(page.locator("#id_username")).to_be_visible()
    assert errors.seen == []
    context.close()


def _label(code: str, text: str) -> str:
    from django.utils import translation

    with translation.override(code):
        return str(translation.gettext(text))


@pytest.mark.parametrize("size", [LAPTOP, SMALL_LAPTOP], ids=["1366", "1000"])
def test_the_top_bar_is_one_line_on_a_laptop_in_every_language(cast, live_server, browser, size):
    from playwright.sync_api import expect

    number = cast["released"]["reopen", "en"]
    for username, paths in (
        ("cara", [*PORTAL_PAGES.values(), f"/portal/requests/{number}/"]),
        ("ada", ["/console/", "/console/board/"]),
    ):
        context, page = browser_sign_in(browser, live_server.url, username)
        errors = Errors(page)
        page.set_viewport_size(size)
        page.goto(paths[0])
        for code in LANGUAGES:
            _switch_language(page, code, phone=False)
            for path in paths:
                page.goto(path)
                expect(page.locator("[data-nav-toggle]")).to_be_hidden()
                expect(page.locator(".topbar .signout button")).to_be_visible()
                _one_line(page, f"{username} {code} {path} {size['width']}")
                _no_overflow(page, f"{username} {code} {path} {size['width']}")
                name = NAMES.get(path, "detail" if "requests" in path else "console")
                _shot(page, f"{name}-{code}-{size['width']}")
            # "More" opens and closes with the keyboard and holds real links.
            more = page.locator(".nav-more > summary")
            more.focus()
            page.keyboard.press("Enter")
            expect(page.locator(".nav-more-menu a").first).to_be_visible()
            page.keyboard.press("Escape")
            expect(page.locator(".nav-more-menu a").first).to_be_hidden()
        assert errors.seen == []
        context.close()


def test_without_javascript_every_link_stays_reachable(cast, live_server, browser):
    from playwright.sync_api import expect

    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, viewport=PHONE
    )
    page = context.new_page()
    page.goto("/accounts/login/")
    page.locator("#id_username").fill("cara")
    page.locator("#id_password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/portal/")
    expect(page.locator("[data-nav-toggle]")).to_be_hidden()
    expect(page.locator(".topbar .signout button")).to_be_visible()
    expect(page.locator(".mainnav").get_by_role("link", name="New request")).to_be_visible()
    _no_overflow(page, "no-js phone")
    context.close()
