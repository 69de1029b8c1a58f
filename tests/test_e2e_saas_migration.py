"""A SaaS migration in a real browser, from the quote to the mailed final statement.

A visitor asks for a quote; the vendor's administrator makes the lead a customer
organisation (the contact is invited by mail), sends an offer with a licence-model line;
the contact chooses a password from the invitation link and confirms the offer in the
portal; the vendor schedules the run and ticks the checklist; the contact accepts; the
vendor issues the final statement, which goes out by mail with its PDF.

``AFTERCARE_SCREENSHOTS=<folder>`` keeps screenshots."""

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

NEW_PASSWORD = "Contact-chose-this-42"


def _shots(page, name: str) -> None:
    folder = os.environ.get("AFTERCARE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"saas-{name}.png"), full_page=True)


@pytest.fixture
def vendor(transactional_db):
    from aftercare.tenancy.tests.factories import staff

    return {
        "admin": staff(Role.ADMIN, username="ada", first_name="Ada", last_name="Admin"),
        "consultant": staff(Role.CONSULTANT, username="cody", first_name="Cody"),
    }


def test_a_saas_migration_from_the_quote_to_the_mailed_statement(
    vendor, live_server, browser, settings
):
    from django.core import mail as django_mail
    from django.utils import timezone
    from playwright.sync_api import expect

    from aftercare.lifecycle.models import Environment, Party
    from aftercare.mail.models import OutboundMail
    from aftercare.mail.outbound import send_due
    from aftercare.notifications.models import Notification
    from aftercare.saas.models import Migration, State

    settings.AFTERCARE_BASE_URL = live_server.url
    settings.AFTERCARE_QUOTE_MIN_SECONDS = 0

    # 1. A visitor asks for a quote.
    visitor = browser.new_context(base_url=live_server.url)
    page = visitor.new_page()
    page.goto("/quote/")
    page.locator("#id_company").fill("Dacia Mobila SRL")
    page.locator("#id_contact_name").fill("Ioana Popa")
    page.locator("#id_email").fill("ioana@dacia-mobila.example")
    page.locator("#id_country").fill("RO")
    page.locator("#id_product").fill("Aftercare ERP 11.2 on-premises")
    page.locator("#id_users").fill("40")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("body")).to_contain_text("Thank you")
    visitor.close()
    migration = Migration.objects.get(email="ioana@dacia-mobila.example")
    # The staff who manage migrations were told; the requester got a receipt.
    assert Notification.objects.filter(kind="saas_quote", user=vendor["admin"]).exists()
    assert OutboundMail.objects.filter(
        kind="saas_quote_received", to_address="ioana@dacia-mobila.example"
    ).exists()

    # 2. The vendor makes the lead a customer organisation and sends an offer.
    context, page = browser_sign_in(browser, live_server.url, "ada")
    page.goto(f"/saas/{migration.pk}/")
    page.locator("#id_code").fill("dacia")
    django_mail.outbox.clear()
    page.get_by_role("button", name="Create an organisation from the lead").click()
    expect(page.locator("body")).to_contain_text("Organisation Dacia Mobila SRL created")
    migration.refresh_from_db()
    assert migration.organisation.time_zone == "Europe/Bucharest"
    (invitation,) = [m for m in django_mail.outbox if m.to == ["ioana@dacia-mobila.example"]]
    link = re.search(r"https?://\S+/password/reset/\S+/", invitation.body).group(0)

    page.get_by_role("button", name="Prepare an offer").click()
    page.locator("#id_items-0-description").fill("Migrarea datelor")
    page.locator("#id_items-0-quantity").fill("3")
    page.locator("#id_items-0-unit").fill("zile")
    page.locator("#id_items-0-unit_price").fill("750")
    page.locator("#id_items-1-kind").select_option("licence")
    page.locator("#id_items-1-description").fill("Licență perpetuă → abonament SaaS")
    page.locator("#id_items-1-quantity").fill("12")
    page.locator("#id_items-1-unit").fill("luni")
    page.locator("#id_items-1-unit_price").fill("400")
    page.get_by_role("button", name=re.compile("Save and send to")).click()
    expect(page.locator("body")).to_contain_text("was sent to ioana@dacia-mobila.example")
    _shots(page, "1-offer-sent")

    # 3. The contact chooses a password from the invitation and confirms in the portal.
    contact = browser.new_context(base_url=live_server.url)
    cpage = contact.new_page()
    cpage.goto(link)
    cpage.locator("#id_new_password1").fill(NEW_PASSWORD)
    cpage.locator("#id_new_password2").fill(NEW_PASSWORD)
    cpage.get_by_role("button", name="Set the password").click()
    cpage.goto("/accounts/login/")
    cpage.locator("#id_username").fill("ioana@dacia-mobila.example")
    cpage.locator("#id_password").fill(NEW_PASSWORD)
    cpage.get_by_role("button", name="Sign in").click()
    expect(cpage.get_by_role("button", name="Sign out")).to_be_visible()
    cpage.goto(f"/portal/migrations/{migration.pk}/")
    expect(cpage.locator("body")).to_contain_text("Licence-model change")
    cpage.get_by_label("Confirm").check()
    cpage.get_by_role("button", name="Send the answer").click()
    expect(cpage.locator("body")).to_contain_text("your answer was recorded")
    migration.refresh_from_db()
    assert migration.state == State.CONFIRMED
    assert Notification.objects.filter(kind="saas_offer_confirmed", user=vendor["admin"]).exists()

    # 4. The vendor schedules the run (from midnight today, so it can be ticked now).
    page.goto(f"/saas/{migration.pk}/")
    today = timezone.now().astimezone(migration.organisation.zone).date()
    page.locator("#id_scheduled_for").fill(today.isoformat())
    page.locator("#id_start_time").fill("00:00")
    page.locator("#id_target_site").fill("dacia.saas.example")
    page.locator("#id_document_archive").check()
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.locator("#run-window")).to_be_visible()
    for _step in range(6):
        page.get_by_role("button", name="Done", exact=True).click()
        expect(page.locator("body")).to_contain_text("Step done")
    migration.refresh_from_db()
    assert migration.state == State.HANDED_OVER
    _shots(page, "2-handed-over")

    # 5. The contact accepts the migrated site.
    cpage.goto(f"/portal/migrations/{migration.pk}/")
    cpage.get_by_role("button", name="Accept the migrated site").click()
    expect(cpage.locator("body")).to_contain_text("the acceptance was recorded")
    env = Environment.objects.get(organisation=migration.organisation)
    assert (env.kind, env.hosting, env.url) == (
        Environment.Kind.PRODUCTION,
        Party.VENDOR,
        "https://dacia.saas.example",
    )

    # 6. The vendor issues the final statement; it is mailed with its PDF.
    page.goto(f"/saas/{migration.pk}/")
    page.get_by_role("button", name="Issue the final statement").click()
    expect(page.locator("#statement-number")).to_be_visible()
    number = page.locator("#statement-number").inner_text()
    assert re.fullmatch(r"\d{4}-0001", number)
    _shots(page, "3-invoiced")
    row = OutboundMail.objects.get(kind="saas_statement", to_address="ioana@dacia-mobila.example")
    assert f"Final statement {number}" in row.subject and row.attachment.name.endswith(".pdf")
    send_due()  # the worker may have sent it already (immediate mode): then nothing to do
    row.refresh_from_db()
    assert row.state == OutboundMail.State.SENT
    (sent,) = [
        m
        for m in django_mail.outbox
        if m.to == ["ioana@dacia-mobila.example"] and f"Final statement {number}" in m.subject
    ]
    ((name, content, mimetype),) = sent.attachments
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")
    cpage.goto(f"/portal/migrations/{migration.pk}/")
    expect(cpage.locator("body")).to_contain_text(number)
    contact.close()
    context.close()
