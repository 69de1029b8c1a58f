"""The portal's Messengers page and the console's messenger page in Chromium, at 1366 and
390 px: a customer makes a code and sees the instructions and deep link; nothing is wider
than the screen; the page raises no console (CSP) error.

``AFTERCARE_SCREENSHOTS`` keeps screenshots of the pages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aftercare.channels.models import ChannelKind, ChannelMessage, ChatLink
from conftest import browser_sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

SIZES = {"wide": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
WIDER = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.mark.parametrize("size", list(SIZES))
def test_the_messenger_pages_fit_and_work(size, bot, owner, operator, org, live_server, browser):
    ChatLink.objects.create(
        channel=ChannelKind.TELEGRAM,
        chat_id="55",
        user=owner,
        organisation=org,
        display_name="Olga Owner (@olga_owner_with_a_long_telegram_name)",
    )
    ChannelMessage.objects.create(
        channel=ChannelKind.TELEGRAM,
        chat_id="999",
        platform_id="1",
        sender_display="Unknown Person",
        text="Hello, our warehouse server is down since the morning, please call back.",
        attachment_names=["photo-1.jpg"],
    )
    shots = os.environ.get("AFTERCARE_SCREENSHOTS")
    for username, path in (("owner", "/portal/messengers/"), ("operator", "/console/messengers/")):
        context, page = browser_sign_in(browser, live_server.url, username)
        page.set_viewport_size(SIZES[size])
        errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(path)
        if username == "owner":
            page.get_by_role("button", name="Make a code").click()
            page.wait_for_load_state()
            code = page.locator("#link-code strong").inner_text()
            assert len(code) == 8
            assert page.get_by_text(f"/start {code}").is_visible()
            link = page.get_by_role("link", name="Open Telegram with the code")
            assert link.get_attribute("href") == f"https://t.me/aftercare_test_bot?start={code}"
            assert page.get_by_text("Olga Owner").is_visible()
        else:
            assert page.get_by_text("warehouse server is down").is_visible()
            assert page.get_by_role("button", name="Discard").is_visible()
        assert page.evaluate(WIDER) <= 1, f"{path} at {size} is wider than the screen"
        assert not errors, errors
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{shots}/{username}-{size}.png", full_page=True)
        context.close()
