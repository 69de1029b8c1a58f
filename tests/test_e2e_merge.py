"""Merging a duplicate through the request page in a real browser: the operator names the
survivor, confirms, lands on it and finds the duplicate's message, file and history there.

``AFTERCARE_SCREENSHOTS=<folder>`` keeps screenshots of the panel at 1366 and 390 px."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from aftercare.accounts.roles import Role
from conftest import browser_sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]


@pytest.fixture
def desk_data(transactional_db):
    from aftercare.desk import merge, services
    from aftercare.desk.models import Status
    from aftercare.desk.tests.factories import PNG, ticket_for
    from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

    org = OrganisationFactory(name="Alpha Foods", code="alpha")
    cara = customer(org, username="cara", first_name="Cara", last_name="Client")
    carl = customer(org, username="carl", first_name="Carl", last_name="Colleague")
    survivor = ticket_for(carl, org, subject="Invoices do not post")
    duplicate = ticket_for(
        cara,
        org,
        subject="Invoice posting broken again",
        description="Posting fails with error 4711 since the update.",
        attachments=[SimpleUploadedFile("error-4711.png", PNG, "image/png")],
    )
    related = ticket_for(cara, org, subject="Month-end report slow")
    otto = staff(Role.OPERATOR, username="otto", first_name="Otto", last_name="Operator")
    services.transition(ticket=duplicate, actor=otto, target=Status.SPRINT)
    merge.link(ticket=duplicate, other=related, actor=otto)
    return {"survivor": survivor, "duplicate": duplicate, "related": related, "otto": otto}


def _shots(page, name: str) -> None:
    folder = os.environ.get("AFTERCARE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_an_operator_merges_a_duplicate_and_the_survivor_shows_its_conversation(
    desk_data, live_server, browser
):
    from playwright.sync_api import expect

    from aftercare.desk.models import Status, Ticket

    duplicate, survivor = desk_data["duplicate"], desk_data["survivor"]
    context, page = browser_sign_in(browser, live_server.url, "otto")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"/console/tickets/{duplicate.number}/")
    panel = page.locator("#related")
    expect(panel).to_contain_text(desk_data["related"].number)
    expect(panel).to_contain_text("Month-end report slow")
    _shots(page, "related-1366")

    panel.locator("summary", has_text="Merge into another request").click()
    page.locator("#merge-survivor").fill(survivor.number)
    page.locator("#merge-note").fill("Same posting error as the older request.")
    # The browser refuses the submit until the confirmation is ticked.
    page.get_by_role("button", name="Merge", exact=True).click()
    assert Ticket.objects.get(pk=duplicate.pk).merged_into_id is None
    page.locator("#merge-form input[name=confirm]").check()
    page.get_by_role("button", name="Merge", exact=True).click()

    expect(page).to_have_url(f"{live_server.url}/console/tickets/{survivor.number}/")
    expect(page.locator("ul.messages")).to_contain_text(
        f"{duplicate.number} was merged into {survivor.number} and closed."
    )
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Posting fails with error 4711 since the update.")
    expect(timeline).to_contain_text("error-4711.png")
    expect(timeline).to_contain_text("Sprint")  # the duplicate's history came along
    expect(page.locator("#merged-from")).to_contain_text(
        f"{duplicate.number} was merged into this request."
    )
    # The link the duplicate had is now the survivor's.
    expect(page.locator("#related")).to_contain_text(desk_data["related"].number)
    _shots(page, "survivor-1366")

    fresh = Ticket.objects.get(pk=duplicate.pk)
    assert (fresh.status, fresh.merged_into_id) == (Status.REJECTED, survivor.pk)

    page.goto(f"/console/tickets/{duplicate.number}/")
    banner = page.locator("#merged-banner")
    expect(banner).to_contain_text(f"Merged into {survivor.number}")
    _shots(page, "duplicate-1366")
    banner.get_by_role("link", name=survivor.number).click()
    expect(page).to_have_url(f"{live_server.url}/console/tickets/{survivor.number}/")
    context.close()

    # The customer of each side is told, under the bell (and by mail).
    for username, text in (
        ("cara", f"merged into {survivor.number}"),
        ("carl", f"Request {duplicate.number} was merged into this one"),
    ):
        context, page = browser_sign_in(browser, live_server.url, username)
        page.locator("#bell").click()
        expect(page.locator("#notifications .notif.unread").first).to_contain_text(text)
        context.close()


def test_the_panel_fits_a_phone(desk_data, live_server, browser):
    from playwright.sync_api import expect

    context, page = browser_sign_in(browser, live_server.url, "otto")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/console/tickets/{desk_data['duplicate'].number}/")
    page.locator("#related summary").click()
    expect(page.locator("#merge-form")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    _shots(page, "related-390")
    context.close()
