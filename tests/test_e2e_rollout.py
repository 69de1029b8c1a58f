"""A release rolled out to three customers in a real browser, from the vendor's first step
to the customer's last: plan it from the release page, record each customer's result,
and the customers whose production got it find their delivered requests Released and the
notice under the bell; the customer whose upgrade failed keeps theirs open.

``AFTERCARE_SCREENSHOTS=<folder>`` keeps screenshots at 1366 and 390 px."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from aftercare.accounts.roles import Role
from conftest import browser_sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]


def _shots(page, name: str) -> None:
    folder = os.environ.get("AFTERCARE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def vendor(transactional_db):
    from django.utils import timezone

    from aftercare.desk import services as desk
    from aftercare.desk.models import Category, Status
    from aftercare.desk.tests.factories import ticket_for
    from aftercare.lifecycle import services
    from aftercare.lifecycle.models import Deployment
    from aftercare.lifecycle.tests.factories import landscape
    from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

    mara = staff(Role.MANAGER, username="mara", first_name="Mara", last_name="Manager")
    cody = staff(Role.CONSULTANT, username="cody", first_name="Cody", last_name="Consultant")
    out = {"mara": mara, "orgs": [], "tickets": {}, "release": None}
    for name, code in (("Alpha Foods", "alpha"), ("Beta Logistics", "beta"), ("Gamma", "gamma")):
        org = OrganisationFactory(name=name, code=code, time_zone="UTC")
        land = landscape(org)
        out["release"] = land["r113"]
        reporter = customer(org, username=f"{code}.user", first_name=name.split()[0])
        fixed = ticket_for(
            reporter, org, subject=f"{name}: totals wrong", category=Category.INCIDENT
        )
        for target in (Status.IN_PROGRESS, Status.DONE):
            desk.transition(ticket=fixed, actor=cody, target=target)
        services.mark_delivered(release=land["r113"], ticket=fixed, actor=cody)
        services.deploy(
            release=land["r113"],
            environment=land["test"],
            actor=cody,
            result=Deployment.Result.SUCCEEDED,
            deployed_at=timezone.now() - timedelta(days=1),
        )
        out["orgs"].append(org)
        out["tickets"][code] = fixed
    return out


def test_a_release_rolled_out_to_three_customers_closes_their_delivered_requests(
    vendor, live_server, browser
):
    from django.utils import timezone
    from playwright.sync_api import expect

    from aftercare.desk.models import Status, Ticket
    from aftercare.lifecycle.models import PlannedUpgrade

    release = vendor["release"]
    context, page = browser_sign_in(browser, live_server.url, "mara")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"/lifecycle/releases/{release.pk}/")
    expect(page.locator("#delivered")).to_contain_text("Alpha Foods: totals wrong")
    page.get_by_role("link", name="Plan this release for customers").click()
    # Production environments come ticked; the date is today.
    for org in vendor["orgs"]:
        expect(
            page.get_by_label(f"{org.name} · {org.code} ERP: Production", exact=False)
        ).to_be_checked()
    page.locator("#id_day").fill(timezone.localdate().isoformat())
    page.locator("#id_at_time").fill("00:00")
    _shots(page, "rollout-plan-1366")
    page.get_by_role("button", name="Plan the upgrades").click()
    expect(page.locator("#rollout-targets tbody tr")).to_have_count(3)
    assert PlannedUpgrade.objects.filter(state="planned").count() == 3

    results = {"alpha": "succeeded", "beta": "failed", "gamma": "succeeded"}
    for org in vendor["orgs"]:
        row = page.locator("#rollout-targets tbody tr", has_text=org.name)
        row.locator("select[name=result]").select_option(results[org.code])
        row.get_by_role("button", name="Record").click()
        expect(
            page.locator("#rollout-targets tbody tr", has_text=org.name).locator(".badge")
        ).not_to_have_text("Planned")
    _shots(page, "rollout-done-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    _shots(page, "rollout-done-390")
    expect(page.locator("#rollout-targets")).to_contain_text("Failed")
    context.close()

    status = {code: Ticket.objects.get(pk=t.pk).status for code, t in vendor["tickets"].items()}
    assert status == {"alpha": Status.RELEASED, "beta": Status.DONE, "gamma": Status.RELEASED}

    from aftercare.mail.models import OutboundMail

    mail = OutboundMail.objects.get(kind="delivered", recipient__username="alpha.user")
    assert "] Released in Aftercare ERP 11.3: Alpha Foods" in mail.subject
    assert not OutboundMail.objects.filter(kind="delivered", recipient__username="beta.user")
    # The customer of a succeeded upgrade: the request is Released, the bell says so.
    context, page = browser_sign_in(browser, live_server.url, "alpha.user")
    page.goto("/notifications/")
    expect(page.locator("main")).to_contain_text("installed with Aftercare ERP 11.3")
    page.goto(f"/portal/requests/{vendor['tickets']['alpha'].number}/")
    expect(page.locator("main")).to_contain_text("Released")
    _shots(page, "rollout-customer-1280")
    context.close()

    # The customer whose upgrade failed hears nothing of a release.
    context, page = browser_sign_in(browser, live_server.url, "beta.user")
    page.goto("/notifications/")
    expect(page.locator("main")).not_to_contain_text("installed with")
    context.close()
