"""The request-for-a-caller form in a real browser, on a desktop and on a phone.

An operator chooses the organisation (htmx swaps in its callers and systems, and what was
already typed stays), finds the caller by part of the name, picks them and files the
request. On a phone the page must not scroll sideways.

Set ``AFTERCARE_SCREENSHOTS`` to a folder to keep screenshots of this form and of the other
pages this change touched (reports, failures, a SaaS migration) in en, ro and ru.
"""

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
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
CSP_RECORD = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@pytest.fixture
def callers(transactional_db):
    from aftercare.tenancy.models import System
    from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

    alpha = OrganisationFactory(name="Alpha Foods", code="alpha")
    beta = OrganisationFactory(name="Beta Logistics", code="beta", country="UA")
    people = {
        "ana": customer(
            alpha, username="ana", first_name="Ana", last_name="Ionescu", phone="+40 21 555 0101"
        ),
        "stefan": customer(alpha, username="stefan", first_name="Ștefan", last_name="Pop"),
        "olena": customer(beta, username="olena", first_name="Олена", last_name="Дністрова"),
    }
    System.objects.create(organisation=alpha, name="Alpha ERP production")
    System.objects.create(organisation=beta, name="Beta ERP test")
    staff(Role.OPERATOR, username="otto")
    return alpha, beta, people


def _open(browser, base_url, size, username="otto"):
    # Signed in at desktop size (the sign-out button is in the menu on a phone), then resized.
    context, page = browser_sign_in(browser, base_url, username)
    context.add_init_script(CSP_RECORD)
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    return context, page


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def _shot(page, name: str) -> None:
    folder = os.environ.get("AFTERCARE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("size", list(SIZES))
def test_an_operator_files_a_request_for_a_caller(size, callers, live_server, browser):
    from playwright.sync_api import expect

    from aftercare.desk.models import Ticket

    alpha, beta, people = callers
    context, page = _open(browser, live_server.url, size)
    page.goto("/console/new/")
    # Typed before the organisation is chosen: must survive the reload of the fields.
    page.locator("#id_subject").fill("Invoices do not post")
    page.locator("#id_organisation").select_option(str(alpha.pk))
    reporter = page.locator("#id_reporter")
    expect(reporter.locator("option")).to_have_count(3)  # "new caller" + Ana + Ștefan
    expect(reporter).not_to_contain_text("Олена")
    expect(page.locator("#id_system")).to_contain_text("Alpha ERP production")
    expect(page.locator("#id_system")).not_to_contain_text("Beta ERP test")
    expect(page.locator("#id_subject")).to_have_value("Invoices do not post")
    channels = page.locator("#id_channel option").all_inner_texts()
    assert "Portal" not in channels and "Phone" in channels

    search = page.locator("#caller-search")
    search.fill("iones")
    option = page.locator("#caller-results [role=option]", has_text="Ana Ionescu")
    expect(option).to_be_visible()
    _no_sideways_scroll(page)
    _shot(page, f"caller-form-search-{size}-en")
    option.click()
    expect(reporter).to_have_value(str(people["ana"].pk))
    page.locator("#id_system").select_option(index=1)
    page.locator("#id_description").fill("The posting job fails since this morning.")
    _no_sideways_scroll(page)
    page.get_by_role("button", name="Register request").click()
    expect(page).to_have_url(re.compile(r"/console/tickets/[^/]+/$"))
    ticket = Ticket.objects.get(subject="Invoices do not post")
    assert (ticket.reporter_id, ticket.organisation_id) == (people["ana"].pk, alpha.pk)
    assert ticket.system.name == "Alpha ERP production"

    # No organisation chosen yet: picking someone switches to theirs with them selected.
    page.goto("/console/new/")
    page.locator("#id_subject").fill("Second call")
    page.locator("#caller-search").fill("Олена")
    page.locator("#caller-results [role=option]", has_text="Олена Дністрова").click()
    expect(page.locator("#id_organisation")).to_have_value(str(beta.pk))
    expect(reporter).to_have_value(str(people["olena"].pk))
    expect(page.locator("#id_system")).to_contain_text("Beta ERP test")
    expect(page.locator("#id_subject")).to_have_value("Second call")
    _no_sideways_scroll(page)
    assert page.evaluate("window.__csp") == []
    context.close()


def test_the_touched_pages_fit_a_phone_in_three_languages(callers, live_server, browser):
    """Reports, failures and SaaS pages never scroll sideways (wide tables scroll inside
    their own box); with ``AFTERCARE_SCREENSHOTS`` each page is photographed at both sizes."""
    from datetime import timedelta

    from django.utils import timezone

    from aftercare.accounts.models import User
    from aftercare.desk.models import Priority
    from aftercare.desk.tests.factories import ticket_for
    from aftercare.monitoring.models import FailedJob
    from aftercare.saas.tests import factories as f
    from aftercare.tenancy.tests.factories import staff

    alpha, _beta, people = callers
    admin = staff(Role.ADMIN, username="ada", is_staff=True)
    for n in range(3):
        ticket_for(people["ana"], alpha, priority=Priority.CRITICAL, subject=f"Down {n}")
    from aftercare.sla.models import SlaClock

    SlaClock.objects.update(deadline=timezone.now() - timedelta(days=1))
    FailedJob.objects.create(
        task_id="t1", task_name="aftercare.mail.tasks.send_outbox", error="database is locked"
    )
    migration = f.lead(organisation=alpha)
    pages = {
        "caller-form": "/console/new/",
        "reports": "/console/reports/",
        "failures": "/monitoring/",
        "saas": f"/saas/{migration.pk}/",
        "saas-list": "/saas/",
    }
    sizes = list(SIZES) if os.environ.get("AFTERCARE_SCREENSHOTS") else ["phone"]
    for size in sizes:
        User.objects.filter(pk=admin.pk).update(language="en")  # the sign-in reads English
        context, page = _open(browser, live_server.url, size, "ada")
        for language in ("en", "ro", "ru"):
            User.objects.filter(pk=admin.pk).update(language=language)
            for name, path in pages.items():
                response = page.goto(path)
                assert response is not None and response.status == 200, path
                page.wait_for_load_state("load")
                if size == "phone":
                    _no_sideways_scroll(page)
                _shot(page, f"{name}-{size}-{language}")
        context.close()
