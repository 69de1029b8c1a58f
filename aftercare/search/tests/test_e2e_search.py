"""The header search box in a real browser (Chromium), console and portal, wide and narrow.

Screenshots go to ``$AFTERCARE_SCREENSHOTS/search`` when that variable is set, for a person to
look at; the assertions do not depend on them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from aftercare.accounts.roles import Role
from conftest import browser_sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]
SIZES = {"wide": {"width": 1366, "height": 820}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def search_data(transactional_db):
    from aftercare.desk import services
    from aftercare.desk.tests.factories import ticket_for
    from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

    org = OrganisationFactory(name="Alpha Foods", code="alpha")
    other = OrganisationFactory(name="Beta Logistics", code="beta")
    reporter = customer(org, username="cara", first_name="Cara", last_name="Ghiță")
    stranger = customer(other, username="boris", first_name="Boris", last_name="Petrenko")
    otto = staff(Role.OPERATOR, username="otto", first_name="Otto", last_name="Operator")
    first = ticket_for(
        reporter,
        org,
        subject="Состояние склада не совпадает после закрытия месяца",
        description=(
            "После закрытия месяца состояние склада в отчёте отличается от остатков. "
            "Échéance de clôture: vendredi. <script>alert('x')</script>"
        ),
    )
    services.reply(ticket=first, actor=otto, body="Склад: проверили состояние, ждём выгрузку.")
    services.reply(
        ticket=first, actor=otto, body="Internal: состояние индекса — пересчитать.", internal=True
    )
    ticket_for(
        reporter,
        org,
        subject="Raport stoc lunar",
        description="Dna Ghiță spune că starea stocului (состояние) e greșită în raport.",
    )
    ticket_for(stranger, other, subject="Состояние заказов Beta", description="Only Beta sees it.")


def _shoot(page, name: str) -> None:
    folder = os.environ.get("AFTERCARE_SCREENSHOTS")
    if folder:
        path = Path(folder) / "search"
        path.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("size", list(SIZES))
def test_staff_type_in_the_header_box_and_get_highlighted_results(
    search_data, live_server, browser, size
):
    from playwright.sync_api import expect

    context, page = browser_sign_in(browser, live_server.url, "otto")
    page.set_viewport_size(SIZES[size])  # signed in wide: on phones "Sign out" is in the menu
    page.goto("/console/")
    box = page.locator("header.topbar form.search-box input[name=q]")
    expect(box).to_be_visible()
    box.fill("СОСТОЯНИЕ")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/search/\?q="))
    hits = page.locator("#search-results > li")
    expect(hits).to_have_count(3)
    expect(hits.first.locator(".hit-subject mark")).to_have_text("Состояние")
    expect(page.locator("#search-results")).to_contain_text("Beta")  # staff see every org
    # The script in the description is text, never markup.
    assert page.evaluate("() => document.querySelectorAll('#search-results script').length") == 0
    # The top bar never grows wider than the window.
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= SIZES[size]["width"], width
    _shoot(page, f"console-{size}")
    context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_customers_search_only_their_requests_from_the_portal(
    search_data, live_server, browser, size
):
    from playwright.sync_api import expect

    context, page = browser_sign_in(browser, live_server.url, "cara")
    page.set_viewport_size(SIZES[size])  # signed in wide: on phones "Sign out" is in the menu
    page.goto("/portal/")
    box = page.locator("header.topbar form.search-box input[name=q]")
    box.fill("состояние")
    box.press("Enter")
    hits = page.locator("#search-results > li")
    expect(hits).to_have_count(2)
    results = page.locator("#search-results")
    expect(results).not_to_contain_text("Beta")
    expect(results).not_to_contain_text("пересчитать")  # the internal note
    expect(results.locator("mark").first).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= SIZES[size]["width"], width
    _shoot(page, f"portal-{size}")
    box = page.locator("header.topbar form.search-box input[name=q]")
    box.fill("ghita")
    box.press("Enter")
    expect(hits).to_have_count(2)
    context.close()
