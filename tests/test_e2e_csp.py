"""In a real browser, the Content Security Policy blocks nothing Aftercare needs.

Chromium reports every violation as a ``securitypolicyviolation`` event (and a console
error); the test records both while an operator and a customer go through the console,
a request, the board, the portal and the API documentation, and checks that htmx (the
queue filters) and app.js (the language switcher) still work under the policy.
"""

from __future__ import annotations

import re

import pytest

from aftercare.accounts.roles import Role

PASSWORD = "pw-for-tests-123"
TIMEOUT_MS = 10_000
RECORD = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile + ":" + e.lineNumber);
});
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]


class Watch:
    """A signed-in page that remembers every CSP complaint."""

    def __init__(self, browser, base_url: str, username: str) -> None:
        from playwright.sync_api import expect

        self.context = browser.new_context(base_url=base_url)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.add_init_script(RECORD)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.console.append(m.text)
                if "Content Security Policy" in m.text or "Content-Security-Policy" in m.text
                else None
            ),
        )
        self.page.goto("/accounts/login/")
        self.page.locator("#id_username").fill(username)
        self.page.locator("#id_password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("button", name="Sign out")).to_be_visible()
        self.violations: list[str] = []
        self.collect()

    def collect(self) -> None:
        self.violations += self.page.evaluate("window.__csp || []")

    def visit(self, path: str) -> None:
        self.collect()
        response = self.page.goto(path)
        assert response is not None and response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        self.page.wait_for_load_state("load")
        self.collect()

    def assert_clean(self) -> None:
        self.collect()
        assert self.violations == [], self.violations
        assert self.console == [], self.console


def test_pages_run_under_the_policy_without_violations(transactional_db, live_server, browser):
    from playwright.sync_api import expect

    from aftercare.desk.tests.factories import ticket_for
    from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

    org = OrganisationFactory(name="Alpha Foods", code="alpha")
    cara = customer(org, username="cara", first_name="Cara", last_name="Customer")
    staff(Role.OPERATOR, username="otto", first_name="Otto", last_name="Operator")
    ticket = ticket_for(cara, org, subject="Stock levels are wrong")
    ticket_for(cara, org, subject="Printer queue stuck", priority=1)

    otto = Watch(browser, live_server.url, "otto")
    otto.visit("/console/")
    expect(otto.page.locator("#results")).to_contain_text("Stock levels are wrong")
    # htmx: changing a filter fetches and swaps the results in place, no page load.
    otto.page.evaluate("window.__stayed = 'yes'")
    select = otto.page.locator("form.filters select").first
    options = select.locator("option").evaluate_all("os => os.map(o => o.value)")
    select.select_option(options[-1])
    expect(otto.page).to_have_url(re.compile(r"\?.+"))
    assert otto.page.evaluate("window.__stayed") == "yes"
    otto.visit(f"/console/tickets/{ticket.number}/")
    expect(otto.page.get_by_role("heading", name=re.compile("Stock levels"))).to_be_visible()
    otto.visit("/console/board/")
    otto.visit(f"/console/organisations/{org.code}/")
    otto.visit("/accounts/profile/")
    otto.visit("/accounts/2fa/")
    otto.page.get_by_role("button", name="Set up two-factor authentication").click()
    qr = otto.page.locator("img.qr")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 0  # the data: SVG was allowed
    otto.collect()
    # app.js under the policy: the language switcher submits on change.
    otto.page.locator("#lang-select").select_option("fr")
    expect(otto.page.locator("html")).to_have_attribute("lang", "fr")
    otto.page.locator("#lang-select").select_option("en")
    expect(otto.page.locator("html")).to_have_attribute("lang", "en")
    otto.visit("/api/docs")
    expect(otto.page.locator(".swagger-ui .info")).to_be_visible()
    otto.assert_clean()

    cara_page = Watch(browser, live_server.url, "cara")
    cara_page.visit("/portal/")
    cara_page.visit(f"/portal/requests/{ticket.number}/")
    expect(cara_page.page.get_by_text("Stock levels are wrong").first).to_be_visible()
    cara_page.visit("/portal/new/")
    cara_page.assert_clean()
    # Control: an inline script is refused and the refusal is seen.
    cara_page.page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__ran = 1'; document.body.appendChild(s); }"
    )
    cara_page.page.wait_for_function("window.__csp.length > 0")
    assert cara_page.page.evaluate("window.__ran") is None
    cara_page.collect()
    assert any("script-src" in v for v in cara_page.violations)
    for watch in (otto, cara_page):
        watch.context.close()
