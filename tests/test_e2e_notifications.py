"""The bell in a real browser: a mention reaches the colleague's bell and clears when read;
a customer copied on a request sees it in the portal and is told of the reply."""

from __future__ import annotations

import re

import pytest

from aftercare.accounts.roles import Role
from conftest import browser_sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]


@pytest.fixture
def desk_data(transactional_db):
    from aftercare.desk.tests.factories import ticket_for
    from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

    org = OrganisationFactory(name="Alpha Foods", code="alpha")
    reporter = customer(org, username="cara", first_name="Cara", last_name="Client")
    colleague = customer(org, username="carl", first_name="Carl", last_name="Colleague")
    ticket = ticket_for(reporter, org, subject="Invoices do not post")
    staff(Role.OPERATOR, username="otto", first_name="Otto", last_name="Operator")
    staff(Role.CONSULTANT, username="olga", first_name="Olga", last_name="Petrenko")
    return {"ticket": ticket, "colleague": colleague}


def test_a_mention_reaches_the_colleagues_bell_and_clears_when_read(
    desk_data, live_server, browser
):
    from playwright.sync_api import expect

    ticket = desk_data["ticket"]
    context, page = browser_sign_in(browser, live_server.url, "otto")
    page.goto(f"/console/tickets/{ticket.number}/")
    page.locator("#composer .tab-note").click()
    box = page.locator("#composer textarea[name=body]")
    box.click()
    box.type("Could you check the posting log, @ol")
    picker = page.locator("#mention-box")
    expect(picker).to_be_visible()
    expect(picker).to_contain_text("Olga Petrenko")
    box.press("Enter")
    expect(box).to_have_value(re.compile(r"@olga $"))
    box.type("thanks")
    page.locator("#composer .send-btn").click()
    expect(page.locator("#timeline")).to_contain_text("@olga thanks")
    context.close()

    context, page = browser_sign_in(browser, live_server.url, "olga")
    bell = page.locator("#bell")
    expect(bell.locator(".bell-count")).to_have_text("1")
    bell.click()
    item = page.locator("#notifications .notif.unread")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Otto Operator mentioned you")
    expect(item).to_contain_text("Could you check the posting log")
    item.locator(".notif-link").click()
    expect(page).to_have_url(re.compile(f"/console/tickets/{ticket.number}/$"))
    expect(page.locator("#bell .bell-count")).to_have_count(0)
    page.locator("#bell").click()
    expect(page.locator("#notifications .notif.unread")).to_have_count(0)
    context.close()


def test_a_copied_contact_sees_the_request_and_hears_of_the_reply(desk_data, live_server, browser):
    from playwright.sync_api import expect

    ticket = desk_data["ticket"]
    context, page = browser_sign_in(browser, live_server.url, "otto")
    page.goto(f"/console/tickets/{ticket.number}/")
    page.locator("#add-cc").select_option(label="Carl Colleague")
    page.locator("#people form.people-add").filter(has=page.locator("#add-cc")).get_by_role(
        "button"
    ).click()
    expect(page.locator("#ccs")).to_contain_text("Carl Colleague")
    page.locator("#composer textarea[name=body]").fill("We have corrected the posting rule.")
    page.locator("#composer .send-btn").click()
    expect(page.locator("#timeline")).to_contain_text("corrected the posting rule")
    context.close()

    context, page = browser_sign_in(browser, live_server.url, "carl")
    expect(page.locator("#bell .bell-count")).to_have_text("2")  # added, then the reply
    page.locator("#bell").click()
    expect(page.locator("#notifications")).to_contain_text("We have corrected the posting rule.")
    page.locator("#notifications .notif-link").first.click()
    expect(page).to_have_url(re.compile(f"/portal/.*{ticket.number}"))
    expect(page.locator("body")).to_contain_text("Invoices do not post")
    context.close()
