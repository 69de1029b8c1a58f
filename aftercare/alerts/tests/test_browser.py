"""The alerts pages in a real browser: they fit a phone and a desktop screen, with no
console error (CSP), and a manager creates an integration and sees the token once."""

from __future__ import annotations

import pytest

from aftercare.alerts.models import AlertIntegration
from aftercare.alerts.tests import payloads
from conftest import browser_sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

OVERFLOW_JS = """() => document.documentElement.scrollWidth - window.innerWidth"""


@pytest.fixture
def seeded(transactional_db, land, bound, post, manager):
    from aftercare.accounts.roles import sync_role_groups

    sync_role_groups()
    _integration, token = bound
    post(
        "alertmanager",
        payloads.alertmanager(payloads.am_alert("fp-a"), payloads.am_alert("fp-b", "resolved")),
        token,
    )
    post("generic", "{ not json " + "x" * 300, token)
    return bound[0]


@pytest.mark.parametrize("width", [1366, 390])
def test_the_alerts_pages_fit_and_work(seeded, live_server, browser, manager, width):
    from playwright.sync_api import expect

    from aftercare.alerts.models import AlertPayload

    context, page = browser_sign_in(browser, live_server.url, "manager")
    page.set_viewport_size({"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    payload = AlertPayload.objects.filter(outcome="rejected").get()
    for url in ("/alerts/", f"/alerts/{seeded.pk}/", f"/alerts/received/{payload.pk}/"):
        response = page.goto(url)
        assert response.status == 200, url
        assert page.evaluate(OVERFLOW_JS) <= 1, f"{url} is wider than {width}px"
    assert not errors, errors
    page.goto("/alerts/")
    page.locator("#id_organisation").select_option(str(seeded.organisation_id))
    page.locator("#id_name").fill("Browser made")
    page.get_by_role("button", name="Create and show the token").click()
    token = page.locator("#alert-token").inner_text()
    assert token.startswith("acal_")
    page.get_by_role("link", name="Done").click()
    expect(page.locator("h1")).to_have_text("Browser made")
    assert token not in page.content()
    assert AlertIntegration.objects.filter(name="Browser made").exists()
    context.close()
