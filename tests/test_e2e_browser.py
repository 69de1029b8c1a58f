"""End to end in a real browser: a request's whole life, from the portal to "Archived".

A customer files a request with an attachment, L1 plans it into the sprint on the board
and escalates it to a named L2 consultant, the consultant works it through to "Released"
and replies, and the customer accepts the result and downloads the attachment again.

Runs Debian's headless Chromium (``/usr/bin/chromium``) through Playwright's sync API
against pytest-django's live server; it never downloads a browser.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest

from aftercare.accounts.roles import Role
from conftest import browser_sign_in

pytestmark = [
    pytest.mark.browser,
    # WhiteNoise warns when STATIC_ROOT does not exist yet (no `collectstatic` in a fresh
    # checkout); static files are served through the finders then, which is what we want.
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]


def _png(width: int = 4, height: int = 3) -> bytes:
    """A small but real PNG (RGB, one colour), so the signature and the bytes are genuine."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\x2a\x7f\xd4" * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def _sign_in(browser, base_url: str, username: str):
    """Signed in with downloads allowed (the customer downloads the attachment again)."""
    return browser_sign_in(browser, base_url, username, accept_downloads=True)


def test_request_lifecycle_in_the_browser(transactional_db, live_server, browser, tmp_path):
    # Rows the migrations create (staff groups, the default SLA plan) are put back by the
    # root conftest's autouse fixture even if an earlier transactional test flushed them.
    from playwright.sync_api import expect

    from aftercare.desk.models import Attachment, Level, Status, Ticket
    from aftercare.tenancy.tests.factories import (
        OrganisationFactory,
        SystemFactory,
        customer,
        staff,
    )

    org = OrganisationFactory(name="Alpha Foods", code="alpha")
    system = SystemFactory(organisation=org, name="Warehouse ERP", version="7.2")
    customer(org, username="cara", first_name="Cara", last_name="Customer")
    staff(Role.OPERATOR, username="otto", first_name="Otto", last_name="Operator")
    staff(Role.CONSULTANT, username="cora", first_name="Cora", last_name="Consultant")
    staff(Role.CONSULTANT, username="conrad", first_name="Conrad", last_name="Other")

    png = _png()
    upload = tmp_path / "stock-error.png"
    upload.write_bytes(png)
    base = live_server.url

    # 1. The customer files a request with an attachment in the portal.
    ctx, page = _sign_in(browser, base, "cara")
    expect(page).to_have_url(re.compile(r"/portal/$"))
    page.locator("nav.mainnav").get_by_role("link", name="New request").click()
    expect(page.get_by_role("heading", name="New request")).to_be_visible()
    form = page.locator("#request-form")
    form.locator("#id_category").select_option("incident")
    form.locator("#id_priority").select_option(label="High")
    form.locator("#id_system").select_option(label=str(system))
    form.locator("#id_subject").fill("Stock levels are wrong after import")
    form.locator("#id_description").fill("After the nightly import the stock of item 42 is 0.")
    form.locator("#id_conditions").fill("Warehouse B, import job 'nightly', since Monday.")
    form.locator("#id_files").set_input_files(str(upload))
    form.get_by_role("button", name="Submit request").click()

    confirmation = page.locator(".messages .msg-success")
    expect(confirmation).to_contain_text(re.compile(r"Your request \S+ was registered"))
    number = page.locator("h1 .num").inner_text().strip()
    assert number in confirmation.inner_text()
    expect(page).to_have_url(re.compile(rf"/portal/requests/{re.escape(number)}/$"))
    expect(page.locator("#ticket-status")).to_have_text("Backlog")

    ticket = Ticket.objects.get(number=number)
    assert (ticket.category, ticket.priority, ticket.system_id) == ("incident", 2, system.pk)
    assert ticket.conditions.startswith("Warehouse B")
    attachment = Attachment.objects.get(ticket=ticket)
    assert attachment.name == "stock-error.png"
    ctx.close()

    # 2. L1 plans it into the sprint on the board, then escalates it to a named consultant.
    ctx, page = _sign_in(browser, base, "otto")
    page.goto("/console/board/")
    card = page.locator(f"#col-backlog article.card[data-ticket='{number}']")
    expect(card).to_be_visible()
    card.locator("select[name=target]").select_option("sprint")
    card.get_by_role("button", name="Move").click()
    moved = page.locator(f"#col-sprint article.card[data-ticket='{number}']")
    expect(moved).to_be_visible()
    expect(page.locator(f"#col-backlog article.card[data-ticket='{number}']")).to_have_count(0)
    page.screenshot(path="/tmp/e2e-board.png", full_page=True)

    moved.get_by_role("link", name=number).click()
    expect(page).to_have_url(re.compile(rf"/console/tickets/{re.escape(number)}/$"))
    expect(page.locator("#ticket-status")).to_have_text("Sprint")
    # One properties form: level and assignee in one save.
    props = page.locator("#properties-form")
    props.locator("select[name=level]").select_option("2")
    props.locator("textarea[name=level_note]").fill("Needs someone who knows the import job.")
    props.locator("select[name=assignee]").select_option(label="Cora Consultant")
    props.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Saved.")
    props = page.locator("#properties-form")
    expect(props).to_contain_text("L2 (consultant)")  # read-only now: no service hands back
    expect(props.locator("select[name=assignee]")).to_have_value(re.compile(r"\d+"))
    expect(props.locator("select[name=level]")).to_have_count(0)
    ticket.refresh_from_db()
    assert ticket.level == Level.L2
    assert ticket.assignee.username == "cora"
    ctx.close()

    # 3. The consultant works it through to "Released" and replies to the customer.
    ctx, page = _sign_in(browser, base, "cora")
    page.goto(f"/console/tickets/{number}/")
    # The files filed with the request are shown with its text (the description, once).
    link = page.locator("#request-text .attachments a", has_text="stock-error.png")
    expect(link).to_have_attribute("href", f"/files/attachments/{attachment.pk}/")
    for target, label in (("in_progress", "In progress"), ("done", "Done")):
        props = page.locator("#properties-form")
        props.locator("select[name=status]").select_option(target)
        props.get_by_role("button", name="Save").click()
        expect(page.locator("#ticket-status")).to_have_text(label)
    # The reply and the release in one submit of the composer.
    reply_text = "Fixed the import mapping; stock of item 42 is correct again."
    reply = page.locator("#composer")
    reply.locator("textarea[name=body]").fill(reply_text)
    expect(reply.locator("input[name=mode][value=reply]")).to_be_checked()
    reply.locator("summary.send-more").click()
    reply.get_by_role("button", name="Send and mark “Released”").click()
    expect(page.locator(".messages")).to_contain_text("Reply sent.")
    expect(page.locator("#ticket-status")).to_have_text("Released")
    expect(page.locator("#timeline li.message", has_text=reply_text)).to_be_visible()
    page.screenshot(path="/tmp/e2e-ticket.png", full_page=True)
    ctx.close()

    # 4. The customer reads the reply, accepts the result and downloads the file again.
    ctx, page = _sign_in(browser, base, "cara")
    page.locator("#requests").get_by_role("link", name=number).click()
    expect(page).to_have_url(re.compile(rf"/portal/requests/{re.escape(number)}/$"))
    expect(page.locator("#ticket-status")).to_have_text("Released")
    public = page.locator("#timeline li.message:not(.internal)", has_text=reply_text)
    expect(public).to_be_visible()
    expect(public.locator(".meta")).to_contain_text("Cora Consultant")
    page.locator("#decision").get_by_role("button", name="Accept the solution").click()
    expect(page.locator(".messages")).to_contain_text("your decision was recorded")
    expect(page.locator("#ticket-status")).to_have_text("Archived")
    expect(page.locator("#decision")).to_have_count(0)

    with page.expect_download() as info:
        page.locator("#request-text .attachments a", has_text="stock-error.png").click()
    download = info.value
    assert download.suggested_filename == "stock-error.png"
    assert Path(download.path()).read_bytes() == png
    ctx.close()

    ticket.refresh_from_db()
    assert ticket.status == Status.ARCHIVED


def test_approval_by_link_unblocks_the_move_in_the_browser(transactional_db, live_server, browser):
    """An agent asks for approval on the request page; the move stays blocked; the
    coordinator opens the link from the e-mail (no sign-in) and approves; the move works."""
    from urllib.parse import urlsplit

    from playwright.sync_api import expect

    from aftercare.desk import services
    from aftercare.desk.models import Approval, Status, Ticket
    from aftercare.desk.tests.factories import ticket_for
    from aftercare.mail.models import OutboundMail
    from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

    org = OrganisationFactory(name="Alpha Foods", code="alpha")
    owner = customer(org, username="cara", first_name="Cara", last_name="Customer")
    customer(
        org,
        role=Role.COORDINATOR,
        username="coco",
        first_name="Coco",
        last_name="Coordinator",
        email="coco@alpha.example",
    )
    cora = staff(Role.CONSULTANT, username="cora", first_name="Cora", last_name="Consultant")
    ticket = ticket_for(owner, org, subject="Negative stock in warehouse B")
    services.transition(ticket=ticket, actor=cora, target=Status.SPRINT)
    base = live_server.url

    ctx, page = _sign_in(browser, base, "cora")
    page.goto(f"/console/tickets/{ticket.number}/")
    page.locator("#approvals summary").click()  # the request form is folded away
    form = page.locator("#approval-form")
    form.locator("textarea[name=action_text]").fill("Run UPDATE on 214 stock rows in production")
    form.locator("select[name=target_status]").select_option("in_progress")
    form.get_by_role("button", name="Ask for approval").click()
    expect(page.locator(".messages")).to_contain_text("Approval requested")
    expect(page.locator("#approvals")).to_contain_text("Waiting for approval")
    props = page.locator("#properties-form")
    props.locator("select[name=status]").select_option("in_progress")
    props.get_by_role("button", name="Save").click()
    expect(page.locator("#properties-form")).to_contain_text("needs the customer's approval")
    expect(page.locator("#ticket-status")).to_have_text("Sprint")

    mail = OutboundMail.objects.get(kind="approval", to_address="coco@alpha.example")
    link = re.search(r"https?://\S+\?d=approve", mail.body_text).group(0)
    anonymous = browser.new_context(base_url=base)
    approver = anonymous.new_page()
    approver.goto(urlsplit(link).path + "?d=approve")
    expect(approver.locator("blockquote")).to_contain_text("Run UPDATE on 214 stock rows")
    approver.get_by_role("button", name="Approve").click()
    expect(approver.locator("#approval-result")).to_contain_text("Approved")
    anonymous.close()
    assert Approval.objects.get(ticket=ticket).decided_via == "link"

    page.goto(f"/console/tickets/{ticket.number}/")  # not reload(): that would re-post
    expect(page.locator("#approvals")).to_contain_text("Approved")
    props = page.locator("#properties-form")
    props.locator("select[name=status]").select_option("in_progress")
    props.get_by_role("button", name="Save").click()
    expect(page.locator("#ticket-status")).to_have_text("In progress")
    expect(page.locator("#timeline")).to_contain_text("approved")
    ctx.close()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.IN_PROGRESS
