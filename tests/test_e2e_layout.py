"""Every page each role uses, in a real browser, at 1366×900 and 390×844, in all five
languages: no horizontal scroll, no server error, no console error, nothing cut off.

Set ``AFTERCARE_SCREENSHOTS`` to a folder to keep a screenshot of every page walked (that is how
the pages were looked at before they were called done)::

    AFTERCARE_SCREENSHOTS=/tmp/shots make test PYTEST_ARGS="tests/test_e2e_layout.py"
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse

from conftest import TEST_PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

LANGUAGES = ("en", "ro", "fr", "uk", "ru")
WIDTHS = {"wide": (1366, 900), "phone": (390, 844)}

STAFF_PAGES = [
    ("console:queue", ()),
    ("console:board", ()),
    ("console:ticket", ("{ticket}",)),
    ("console:ticket-new", ()),
    ("console:reports", ()),
    ("console:notifications", ()),
    ("notifications:settings", ()),
    ("console:dashboard", ()),
    ("console:time-report", ()),
    ("console:settings", ()),
    ("console:settings-sla-plans", ()),
    ("console:settings-sla-plans-targets", ("{plan}",)),
    ("console:settings-calendars", ()),
    ("console:settings-canned", ()),
    ("console:settings-canned-new", ()),
    ("console:settings-mailboxes", ()),
    ("console:settings-webhooks", ()),
    ("console:settings-users", ()),
    ("console:settings-users-edit", ("{customer_user}",)),
    ("console:settings-organisations", ()),
    ("console:settings-organisations-edit", ("carpathia",)),
    ("console:organisations", ()),
    ("console:organisation", ("carpathia",)),
    ("search:console", ()),
    ("lifecycle:overview", ()),
    ("lifecycle:releases", ()),
    ("lifecycle:release", ("{release}",)),
    ("lifecycle:environment", ("{environment}",)),
    ("lifecycle:rollouts", ()),
    ("lifecycle:rollout", ("{rollout}",)),
    ("lifecycle:rollout-new", ("{release}",)),
    ("alerts:list", ()),
    ("availability:overview", ()),
    ("availability:organisation", ("carpathia",)),
    ("availability:environment", ("{environment}",)),
    ("artefacts:target", ("release", "{release}")),
    ("saas:list", ()),
    ("projects:list", ()),
    ("kb:list", ()),
    ("kb:new", ()),
    ("kb:detail", ("{article}",)),
    ("kb:edit", ("{article}",)),
    ("monitoring:failure-list", ()),
    ("mail:log", ()),
    ("channels:inbox", ()),
]
CUSTOMER_PAGES = [
    ("portal:list", ()),
    ("portal:new", ()),
    ("portal:detail", ("{ticket}",)),
    ("portal:reports", ()),
    ("portal:approvals", ()),
    ("notifications:inbox", ()),
    ("notifications:settings", ()),
    ("search:portal", ()),
    ("lifecycle_portal:environments", ()),
    ("availability_portal:organisation", ("carpathia",)),
    ("project_portal:list", ()),
    ("project_portal:detail", ("{project}",)),
    ("kb_portal:list", ()),
    ("kb_portal:detail", ("{article}",)),
    ("artefacts_portal:list", ()),
    ("saas_portal:list", ()),
    ("channels_portal:messengers", ()),
]
# (username, pages, languages walked). The restricted operator is walked in two languages:
# the restriction changes what is listed, not how the page is laid out.
ROLES = {
    "operator": (STAFF_PAGES, LANGUAGES),
    "consultant": (STAFF_PAGES, LANGUAGES),
    "developer": (STAFF_PAGES, LANGUAGES),
    "manager": (STAFF_PAGES, LANGUAGES),
    "admin": (STAFF_PAGES, LANGUAGES),
    "restricted": (STAFF_PAGES, ("en", "ru")),
    "carpathia.user": (CUSTOMER_PAGES, LANGUAGES),
    "carpathia.coordinator": (CUSTOMER_PAGES, LANGUAGES),
}

# Measured in the page: how much wider than the window it is, and which elements stick
# out past the right edge (the first few, named so a failure says where to look).
OVERFLOW_JS = """() => {
  const doc = document.documentElement;
  const width = window.innerWidth;
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > width + 1) {
      let inside = false;  // a table scrolling in its own box is fine
      for (let p = el.parentElement; p; p = p.parentElement) {
        const s = getComputedStyle(p);
        if (s.overflowX === 'auto' || s.overflowX === 'scroll' || s.overflowX === 'hidden') {
          if (p.getBoundingClientRect().right <= width + 1) { inside = true; break; }
        }
      }
      if (!inside) out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
        (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''));
    }
    if (out.length >= 5) break;
  }
  return {scroll: doc.scrollWidth - width, out};
}"""


@pytest.fixture
def demo(transactional_db):
    from aftercare.accounts.models import User
    from aftercare.accounts.roles import GROUP_NAMES, Role
    from aftercare.desk.models import Ticket
    from aftercare.tenancy.models import AgentRestriction, Organisation

    call_command("demo_load", stdout=io.StringIO())
    restricted = User.objects.create(username="restricted", first_name="Rita", last_name="Ro")
    from django.contrib.auth.models import Group

    restricted.groups.add(Group.objects.get(name=GROUP_NAMES[Role.OPERATOR]))
    AgentRestriction.objects.create(
        user=restricted, organisation=Organisation.objects.get(code="carpathia")
    )
    for user in User.objects.all():
        user.set_password(TEST_PASSWORD)
        user.save(update_fields=["password"])
    ticket = Ticket.objects.filter(organisation__code="carpathia").order_by("pk").first()
    from aftercare.sla.models import SlaPlan

    plan = SlaPlan.objects.order_by("pk").first()
    customer_user = User.objects.get(username="carpathia.user")
    from aftercare.lifecycle.models import Environment, Release, Rollout

    environment = (
        Environment.objects.filter(organisation__code="carpathia", kind="production")
        .order_by("pk")
        .first()
    )
    release = Release.objects.order_by("-released_on", "-pk").first()
    rollout = Rollout.objects.filter(targets__organisation__code="carpathia").first()
    from aftercare.kb.models import Article

    article = Article.objects.filter(visibility="published").order_by("pk").first()
    from aftercare.projects.models import Project

    project = Project.objects.filter(organisation__code="carpathia").order_by("pk").first()
    return {
        "ticket": ticket.number,
        "plan": str(plan.pk),
        "customer_user": str(customer_user.pk),
        "release": str(release.pk),
        "environment": str(environment.pk),
        "article": str(article.pk),
        "rollout": str(rollout.pk),
        "project": str(project.pk),
    }


def _sign_in(browser, base_url: str, username: str, width: int, height: int):
    from conftest import BROWSER_TIMEOUT_MS

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


def _url(name: str, args: tuple, demo: dict) -> str | None:
    try:
        return reverse(name, args=[a.format(**demo) for a in args])
    except NoReverseMatch:
        return None  # a page this build does not have


@pytest.mark.parametrize("username", list(ROLES))
def test_every_page_fits_every_screen_in_every_language(username, demo, live_server, browser):
    from aftercare.accounts.models import User

    pages, languages = ROLES[username]
    shots = os.environ.get("AFTERCARE_SCREENSHOTS")
    problems: list[str] = []
    walked = 0
    for size_name, (width, height) in WIDTHS.items():
        User.objects.filter(username=username).update(language="en")
        context, page = _sign_in(browser, live_server.url, username, width, height)
        errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        for language in languages:
            # The profile's language wins over the cookie, as for a real user.
            User.objects.filter(username=username).update(language=language)
            for name, args in pages:
                url = _url(name, args, demo)
                if url is None:
                    continue
                errors.clear()
                response = page.goto(url)
                status = response.status if response else 0
                if status in (403, 404):
                    continue  # not this role's page
                walked += 1
                where = f"{username} {language} {width}px {url}"
                if status >= 400:
                    problems.append(f"{where}: HTTP {status}")
                    continue
                measured = page.evaluate(OVERFLOW_JS)
                if measured["scroll"] > 1:
                    problems.append(
                        f"{where}: {measured['scroll']}px wider than the screen "
                        f"({', '.join(measured['out'])})"
                    )
                if errors:
                    problems.append(f"{where}: console: {errors[:2]}")
                if shots:
                    folder = Path(shots) / username / language
                    folder.mkdir(parents=True, exist_ok=True)
                    slug = name.replace(":", "-")
                    page.screenshot(path=str(folder / f"{slug}-{size_name}.png"), full_page=True)
        context.close()
    assert walked, f"{username} walked no page"
    assert not problems, "\n".join(problems)
