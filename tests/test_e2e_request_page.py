"""The request page in a real browser: one composer, one properties save, the live warning,
the keys help, and files by drop and paste."""

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
    ticket = ticket_for(reporter, org, subject="Invoices do not post")
    otto = staff(Role.OPERATOR, username="otto", first_name="Otto", last_name="Operator")
    olga = staff(Role.CONSULTANT, username="olga", first_name="Olga", last_name="Petrenko")
    return {"ticket": ticket, "otto": otto, "olga": olga}


def _open(browser, live_server, ticket):
    context, page = browser_sign_in(browser, live_server.url, "otto")
    page.goto(f"/console/tickets/{ticket.number}/")
    return context, page


def test_a_reply_and_the_status_go_in_one_submit(desk_data, live_server, browser):
    from playwright.sync_api import expect

    from aftercare.desk.models import Message, Status, Ticket

    ticket = desk_data["ticket"]
    context, page = _open(browser, live_server, ticket)
    page.locator("#composer textarea[name=body]").fill("Please send us the error log.")
    page.locator("#composer summary.send-more").click()
    page.get_by_role("button", name="Send and wait for the customer").click()
    expect(page.locator("#ticket-status")).to_have_text("Waiting for customer")
    expect(page.locator("#timeline")).to_contain_text("Please send us the error log.")
    assert Ticket.objects.get(pk=ticket.pk).status == Status.WAITING
    assert Message.objects.get(body="Please send us the error log.").kind == "public"
    context.close()


def test_note_mode_is_unmistakable(desk_data, live_server, browser):
    from playwright.sync_api import expect

    context, page = _open(browser, live_server, desk_data["ticket"])
    expect(page.locator("#composer .hint-reply")).to_be_visible()
    page.keyboard.press("n")
    expect(page.locator("#composer")).to_have_class(re.compile("mode-note"))
    expect(page.locator("#composer .hint-note")).to_be_visible()
    expect(page.locator("#composer .hint-reply")).to_be_hidden()
    expect(page.locator("#composer textarea[name=body]")).to_be_focused()
    context.close()


def test_properties_change_in_one_save(desk_data, live_server, browser):
    from playwright.sync_api import expect

    from aftercare.desk.models import Category, Priority, Ticket

    ticket = desk_data["ticket"]
    context, page = _open(browser, live_server, ticket)
    form = page.locator("#properties-form")
    expect(form.locator("[data-priority-reason]")).to_be_hidden()
    form.locator("select[name=priority]").select_option(str(Priority.HIGH))
    expect(form.locator("[data-priority-reason]")).to_be_visible()
    form.locator("textarea[name=priority_reason]").fill("Month-end closing")
    form.locator("select[name=category]").select_option(Category.PROBLEM)
    form.locator("input[name=tags]").fill("month-end, invoices")
    form.get_by_role("button", name="Save").click()
    expect(page.locator(".msg-success")).to_contain_text("Saved.")
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.priority == Priority.HIGH and fresh.category == Category.PROBLEM
    assert sorted(t.name for t in fresh.tags.all()) == ["invoices", "month-end"]
    context.close()


def test_a_stale_save_is_warned_about_before_it_is_sent(desk_data, live_server, browser):
    from playwright.sync_api import expect

    from aftercare.desk import services
    from aftercare.desk.models import Message

    ticket = desk_data["ticket"]
    context, page = _open(browser, live_server, ticket)
    page.locator("#composer textarea[name=body]").fill("Restart the service, please.")
    services.reply(ticket=ticket, actor=desk_data["olga"], body="I am on it already.")
    page.evaluate("window.aftercarePoll()")
    banner = page.locator("#live-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Olga Petrenko replied")
    expect(page.locator("#timeline")).to_contain_text("I am on it already.")
    page.locator("#composer .send-btn").click()
    expect(page.locator("#live-save-anyway")).to_be_visible()
    assert not Message.objects.filter(body="Restart the service, please.").exists()
    page.locator("#live-save-anyway").click()
    expect(page.locator(".msg-success")).to_contain_text("Reply sent.")
    assert Message.objects.filter(body="Restart the service, please.").exists()
    context.close()


def test_question_mark_opens_the_keys_help(desk_data, live_server, browser):
    from playwright.sync_api import expect

    context, page = _open(browser, live_server, desk_data["ticket"])
    page.locator("h1").click()
    page.keyboard.press("?")
    expect(page.locator("#keys-help")).to_be_visible()
    expect(page.locator("#keys-help")).to_contain_text("Keyboard shortcuts")
    page.keyboard.press("Escape")
    expect(page.locator("#keys-help")).to_be_hidden()
    # Typing a "?" in the composer is just typing.
    page.locator("#composer textarea[name=body]").type("Why?")
    expect(page.locator("#keys-help")).to_be_hidden()
    context.close()


DROP_AND_PASTE = """
() => {
  const png = Uint8Array.from(atob(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
  ), c => c.charCodeAt(0));
  const drop = new DataTransfer();
  drop.items.add(new File([png], "dropped.png", {type: "image/png"}));
  document.querySelector("[data-dropzone]").dispatchEvent(
    new DragEvent("drop", {dataTransfer: drop, bubbles: true, cancelable: true}));
  const clip = new DataTransfer();
  clip.items.add(new File([png], "image.png", {type: "image/png"}));
  document.querySelector("#composer textarea").dispatchEvent(
    new ClipboardEvent("paste", {clipboardData: clip, bubbles: true, cancelable: true}));
  return Array.from(document.querySelector("#composer input[type=file]").files).map(f => f.name);
}
"""


def test_files_come_in_by_drop_and_by_paste(desk_data, live_server, browser):
    from playwright.sync_api import expect

    from aftercare.desk.models import Attachment

    context, page = _open(browser, live_server, desk_data["ticket"])
    names = page.evaluate(DROP_AND_PASTE)
    assert names[0] == "dropped.png"
    assert re.fullmatch(r"screenshot-\d{8}-\d{6}\.png", names[1]), names
    expect(page.locator("#file-list li")).to_have_count(2)
    page.locator("#file-list .remove-file").first.click()
    expect(page.locator("#file-list li")).to_have_count(1)
    page.locator("#composer textarea[name=body]").fill("Screenshot attached.")
    page.locator("#composer .send-btn").click()
    expect(page.locator(".msg-success")).to_contain_text("Reply sent.")
    stored = list(Attachment.objects.values_list("name", flat=True))
    assert len(stored) == 1 and stored[0].startswith("screenshot-")
    context.close()


def test_the_timeline_filter_is_remembered(desk_data, live_server, browser):
    from playwright.sync_api import expect

    from aftercare.desk import services

    ticket = desk_data["ticket"]
    services.reply(ticket=ticket, actor=desk_data["olga"], body="A public answer.")
    context, page = _open(browser, live_server, ticket)
    events = page.locator("#timeline li.event")
    expect(events.first).to_be_visible()
    page.locator("#timeline-filter").get_by_role("button", name="Conversation").click()
    expect(events.first).to_be_hidden()
    page.reload()
    expect(events.first).to_be_hidden()
    expect(page.locator("#timeline li.message").first).to_be_visible()
    page.locator("#timeline-filter").get_by_role("button", name="Everything").click()
    expect(events.first).to_be_visible()
    context.close()


def test_j_k_and_enter_open_a_request_from_the_queue(desk_data, live_server, browser):
    from playwright.sync_api import expect

    from aftercare.desk.tests.factories import ticket_for

    first = desk_data["ticket"]
    second = ticket_for(first.reporter, first.organisation, subject="Second request")
    context, page = browser_sign_in(browser, live_server.url, "otto")
    page.goto("/console/")
    rows = page.locator("#queue tbody tr[data-href]")
    expect(rows).to_have_count(2)
    page.locator("h1").first.click()
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile("key-current"))
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile("key-current"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile("key-current"))
    wanted = rows.nth(0).get_attribute("data-href")
    assert wanted in (f"/console/tickets/{first.number}/", f"/console/tickets/{second.number}/")
    page.keyboard.press("o")
    expect(page).to_have_url(re.compile(re.escape(wanted) + "$"))
    page.wait_for_load_state("load")  # keys.js runs once the new page has loaded
    # "/" goes to the search box; "g q" back to the queue.
    page.keyboard.press("/")
    expect(page.locator("[data-search-box], .topbar input[type=search]").first).to_be_focused()
    page.locator("h1").first.click()
    page.keyboard.press("g")
    page.keyboard.press("q")
    expect(page).to_have_url(re.compile(r"/console/$"))
    context.close()
