"""Small things people notice: the favicon, the admin link, SaaS wording, a readable button."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from aftercare.accounts.roles import Role
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db


def test_favicon_ico_is_not_a_404(client):
    response = client.get("/favicon.ico")
    assert response.status_code in (200, 301, 302)
    assert response["Location"].endswith("favicon.svg")
    assert "max-age=86400" in response["Cache-Control"]


def test_every_page_links_the_svg_icon(client):
    page = client.get(reverse("accounts:login")).content.decode()
    assert re.search(r'<link rel="icon" href="[^"]*favicon\.svg"', page)


# -- the admin link -------------------------------------------------------------------------


def _nav(client_for, user) -> str:
    return client_for(user).get(reverse("console:queue")).content.decode()


def test_an_administrator_sees_the_admin_link(client_for):
    admin = staff(Role.ADMIN, username="admin", is_staff=True)
    html = _nav(client_for, admin)
    assert 'id="nav-admin"' in html and 'href="/admin/"' in html
    assert client_for(admin).get("/admin/").status_code == 200


def test_staff_without_admin_access_do_not(client_for, operator):
    assert 'id="nav-admin"' not in _nav(client_for, operator)


def test_a_restricted_agent_with_the_staff_flag_does_not(client_for, org):
    agent = staff(Role.ADMIN, username="restricted-admin", is_staff=True)
    AgentRestriction.objects.create(user=agent, organisation=org)
    assert 'id="nav-admin"' not in _nav(client_for, agent)
    assert client_for(agent).get("/admin/").status_code in (302, 403)


# -- SaaS pages ----------------------------------------------------------------------------


def test_saas_events_read_as_words_and_labels_start_with_a_capital(org, consultant, client_for):
    from aftercare.saas.tests import factories as f

    migration = f.lead(organisation=org)
    html = client_for(consultant).get(reverse("saas:detail", args=[migration.pk])).content.decode()
    timeline = html[html.index('class="timeline"') :]
    assert "Quote request</span>: Lead" in timeline
    assert ">saas.lead.created<" not in timeline  # the code only in a data attribute
    assert "<th>Contact name</th>" in html and "<th>contact name</th>" not in html
    listing = client_for(consultant).get(reverse("saas:list")).content.decode()
    assert "<th>Number of users</th>" in listing


@pytest.mark.parametrize("language", ["ro", "ru"])
def test_saas_event_labels_are_translated_or_at_least_words(language):
    from django.utils import translation

    from aftercare.saas import labels

    with translation.override(language):
        assert labels.action_label("saas.lead.created")
        assert "saas." not in labels.action_label("saas.lead.created")


def test_an_unknown_event_code_is_humanised():
    from aftercare.saas import labels

    assert labels.action_label("saas.offer.reminder_sent") == "Offer reminder sent"
    assert labels.value_label("offer_sent") == "Offer sent"
    assert labels.value_label("whatever") == "whatever"


def test_every_saas_action_the_services_write_has_a_label():
    from pathlib import Path

    import aftercare.saas.services as services
    from aftercare.saas.labels import ACTION_LABELS

    written = set(re.findall(r'"(saas\.[a-z_]+\.[a-z_]+)"', Path(services.__file__).read_text()))
    assert written - set(ACTION_LABELS) == set()


# -- the failures page ---------------------------------------------------------------------


def test_mark_resolved_is_a_visible_button(client_for):
    from aftercare.monitoring.models import FailedJob

    admin = staff(Role.ADMIN, username="admin")
    FailedJob.objects.create(task_id="t", task_name="aftercare.mail.tasks.send_outbox", error="x")
    html = client_for(admin).get(reverse("monitoring:failure-list")).content.decode()
    button = re.search(r'<button[^>]*value="resolve"[^>]*>', html).group(0)
    # "btn link" drew white text (.btn) on no background (.link): white on white.
    assert 'class="btn secondary"' in button
