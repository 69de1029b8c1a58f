"""The availability pages in a real browser at 1366 and 390 px, with data on them: no
horizontal scroll, no console error. ``AFTERCARE_SCREENSHOTS`` keeps screenshots."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from aftercare.accounts.roles import Role
from aftercare.availability.models import Downtime
from aftercare.desk.models import Category
from aftercare.desk.tests.factories import ticket_for
from aftercare.lifecycle.tests.factories import landscape
from aftercare.tenancy.models import Contract
from aftercare.tenancy.tests.factories import customer, staff
from conftest import BROWSER_TIMEOUT_MS, TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERFLOW_JS = """() => {
  const width = window.innerWidth, out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || r.right <= width + 1) continue;
    let inside = false;
    for (let p = el.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (['auto', 'scroll', 'hidden'].includes(s.overflowX) &&
          p.getBoundingClientRect().right <= width + 1) { inside = true; break; }
    }
    if (!inside) out.push(el.tagName + (el.id ? '#' + el.id : '') + '.' + el.className);
    if (out.length >= 5) break;
  }
  return {scroll: document.documentElement.scrollWidth - width, out};
}"""


def _sign_in(browser, base_url: str, username: str, width: int, height: int):
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": height})
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(TEST_PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url, f"{username} could not sign in"
    return context, page


@pytest.fixture
def scene(org):
    land = landscape(org)
    contract = land["contract"]
    contract.support_hours = Contract.SupportHours.BUSINESS
    contract.availability_target = Decimal("99.50")
    contract.save()
    reporter = customer(org, username="walk-reporter")
    now = timezone.now()
    for i in range(6):
        start = now - timedelta(days=20 * i + 1, hours=3)
        row = Downtime.objects.create(
            environment=land["production"] if i % 2 == 0 else land["test"],
            started_at=start,
            ended_at=start + timedelta(hours=2 + i),
            planned=i == 4,
            cause=f"Storage controller firmware fault number {i} on the primary database cluster",
        )
        row.incidents.add(
            ticket_for(reporter, org, subject=f"ERP unreachable {i}", category=Category.INCIDENT)
        )
    Downtime.objects.create(
        environment=land["production"], started_at=now - timedelta(minutes=30), cause="Ongoing"
    )
    return land


def test_pages_fit_wide_and_phone_screens(scene, org, live_server, browser):
    staff(Role.CONSULTANT, username="walk-consultant")
    customer(org, role=Role.COORDINATOR, username="walk-coordinator")
    downtime = Downtime.objects.filter(environment=scene["production"]).first()
    pages = {
        "walk-consultant": [
            reverse("availability:overview"),
            reverse("availability:organisation", args=[org.code]),
            reverse("availability:environment", args=[scene["production"].pk]),
            reverse("availability:downtime", args=[downtime.pk]),
        ],
        "walk-coordinator": [reverse("availability_portal:organisation", args=[org.code])],
    }
    shots = os.environ.get("AFTERCARE_SCREENSHOTS")
    problems = []
    for username, paths in pages.items():
        for width, height in ((1366, 900), (390, 844)):
            context, page = _sign_in(browser, live_server.url, username, width, height)
            errors: list[str] = []
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            for path in paths:
                errors.clear()
                response = page.goto(path)
                assert response.status == 200, path
                measured = page.evaluate(OVERFLOW_JS)
                if measured["scroll"] > 1:
                    problems.append(f"{username} {width}px {path}: {measured}")
                if errors:
                    problems.append(f"{username} {width}px {path}: {errors}")
                assert (
                    page.locator("svg.trend-chart").count()
                    or "downtimes" in path
                    or ("environments" in path)
                    or path.endswith("/availability/")
                )
                if shots:
                    folder = Path(shots)
                    folder.mkdir(parents=True, exist_ok=True)
                    slug = path.strip("/").replace("/", "-")
                    page.screenshot(
                        path=str(folder / f"{username}-{slug}-{width}.png"), full_page=True
                    )
            context.close()
    assert not problems, "\n".join(problems)
