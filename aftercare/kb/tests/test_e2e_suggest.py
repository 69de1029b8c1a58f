"""In a real browser (CSP on): typing a subject on the new-request form suggests articles,
and the article's "This solved my problem" counts."""

from __future__ import annotations

import pytest

from conftest import browser_sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]


def test_the_portal_suggests_articles_while_the_customer_types(
    transactional_db, live_server, browser, owner, erp_article, wms_article
):
    from playwright.sync_api import expect

    context, page = browser_sign_in(browser, live_server.url, "owner")
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto("/portal/new/")
    page.locator("#id_subject").press_sequentially("export hangs", delay=20)
    box = page.locator("#kb-suggest")
    expect(box.get_by_role("link", name="Invoice export hangs")).to_be_visible()
    expect(box).not_to_contain_text("Scanner pairing")
    page.goto(box.get_by_role("link", name="Invoice export hangs").get_attribute("href"))
    page.get_by_role("button", name="This solved my problem").click()
    expect(page.locator("#kb-feedback")).to_contain_text("You told us")
    erp_article.refresh_from_db()
    assert erp_article.solved_count == 1
    assert not errors, errors
    context.close()
