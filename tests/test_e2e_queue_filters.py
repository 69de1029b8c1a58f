"""The queue's filters in a real browser: the URL holds exactly the current filters, and a
failed refresh never leaves the old rows under the new filters.

Before the fix every change appended the whole query string again (an empty ``hx-get``
means "the current URL"), so after about 48 changes the request failed with 414 and the
list silently kept the rows of the old filter.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from aftercare.accounts.roles import Role
from conftest import browser_sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]


def _sign_in(browser, base_url: str, username: str):
    return browser_sign_in(browser, base_url, username)


@pytest.fixture
def queue_data(transactional_db):
    from aftercare.desk.models import Category
    from aftercare.desk.tests.factories import ticket_for
    from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

    org = OrganisationFactory(name="Alpha Foods", code="alpha")
    reporter = customer(org, username="cara")
    ticket_for(reporter, org, subject="Alpha incident", category=Category.INCIDENT)
    ticket_for(reporter, org, subject="Alpha consultation", category=Category.CONSULTATION)
    staff(Role.OPERATOR, username="otto")


def test_sixty_filter_changes_keep_a_short_exact_url(queue_data, live_server, browser):
    from playwright.sync_api import expect

    context, page = _sign_in(browser, live_server.url, "otto")
    page.goto("/console/")
    category = page.locator("form.filters select[name=category]")
    rows = page.locator("#queue tbody tr")
    for i in range(60):
        wanted = "incident" if i % 2 == 0 else "consultation"
        category.select_option(wanted)
        expect(page).to_have_url(re.compile(rf"[?&]category={wanted}(&|$)"))
        query = parse_qs(urlsplit(page.url).query)
        assert query.get("category") == [wanted], page.url
        assert len(page.url) < 300, f"the URL grows: {len(page.url)} characters"
    expect(rows).to_have_count(1)
    expect(page.locator("#queue")).to_contain_text("Alpha consultation")
    expect(page.locator("#refresh-error")).to_be_hidden()
    context.close()


def test_a_failed_refresh_hides_the_rows_and_says_so(queue_data, live_server, browser):
    from playwright.sync_api import expect

    context, page = _sign_in(browser, live_server.url, "otto")
    page.goto("/console/")
    expect(page.locator("#queue")).to_contain_text("Alpha incident")
    # The next refresh fails as a too-long URL would (414), then the one after succeeds.
    failing = {"on": True}

    def route(r):
        if failing["on"] and r.request.headers.get("hx-request"):
            return r.fulfill(status=414, body="URI Too Long")
        return r.continue_()

    page.route("**/console/**", route)
    page.locator("form.filters select[name=category]").select_option("consultation")
    expect(page.locator("#refresh-error")).to_be_visible()
    expect(page.locator("#results")).to_be_hidden()  # never the old rows under a new filter
    failing["on"] = False
    page.locator("form.filters select[name=category]").select_option("incident")
    expect(page.locator("#refresh-error")).to_be_hidden()
    expect(page.locator("#results")).to_be_visible()
    expect(page.locator("#queue")).to_contain_text("Alpha incident")
    context.close()
