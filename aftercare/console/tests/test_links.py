"""The request page's related requests: link, unlink and merge, as each role."""

from __future__ import annotations

import pytest
from django.urls import reverse

from aftercare.accounts.roles import Role
from aftercare.desk import merge
from aftercare.desk.models import Message, Status, Ticket, TicketLink
from aftercare.desk.tests.factories import ticket_for
from aftercare.ops import maintenance
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def survivor(owner, org):
    return ticket_for(owner, org, subject="Invoices do not post")


@pytest.fixture
def duplicate(owner, org):
    return ticket_for(owner, org, subject="Invoice posting broken", description="Same again.")


@pytest.fixture
def admin(db):
    return staff(Role.ADMIN, username="admin")


@pytest.fixture
def restricted(other_org):
    """An operator who works for another customer only."""
    user = staff(Role.OPERATOR, username="restricted")
    AgentRestriction.objects.create(user=user, organisation=other_org)
    return user


def _url(name: str, ticket: Ticket) -> str:
    return reverse(f"console:ticket-{name}", args=[ticket.number])


def _page(ticket: Ticket) -> str:
    return reverse("console:ticket", args=[ticket.number])


def _fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def _merge_form(survivor: Ticket, **extra) -> dict:
    return {"survivor": survivor.number, "note": "Same error", "confirm": "1", **extra}


# -- the panel ----------------------------------------------------------------------------


def test_the_page_lists_related_requests_with_link_and_merge_forms(
    client_for, operator, duplicate, survivor
):
    merge.link(ticket=duplicate, other=survivor, actor=operator)
    html = client_for(operator).get(_page(duplicate)).content.decode()
    assert 'id="related"' in html
    assert survivor.number in html and "Invoices do not post" in html
    assert 'id="link-form"' in html and 'id="merge-form"' in html
    assert _url("unlink", duplicate) in html


def test_a_developer_links_but_is_not_offered_the_merge(client_for, developer, duplicate):
    html = client_for(developer).get(_page(duplicate)).content.decode()
    assert 'id="link-form"' in html
    assert 'id="merge-form"' not in html


def test_the_panel_is_one_query(client_for, operator, duplicate, survivor, owner, org):
    from django.template import Context, Template

    from aftercare.accounts.roles import PermSet

    for n in range(3):
        merge.link(ticket=duplicate, other=ticket_for(owner, org, subject=f"R{n}"), actor=operator)
    permset = PermSet(operator)
    permset.perms, permset.is_agent, permset.agent_restricted_to  # noqa: B018 - warm caches
    tpl = Template(
        "{% load related %}{% related_panel ticket permset as rel %}{{ rel.rows|length }}"
    )
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        out = tpl.render(Context({"ticket": duplicate, "permset": permset}))
    assert out == "3"
    assert len(queries) == 1, [q["sql"] for q in queries]


def test_an_agent_restricted_to_this_customer_sees_its_linked_requests(
    client_for, duplicate, survivor, operator, other_org
):
    merge.link(ticket=duplicate, other=survivor, actor=operator)
    both = staff(Role.OPERATOR, username="both")
    AgentRestriction.objects.create(user=both, organisation=duplicate.organisation)
    html = client_for(both).get(_page(duplicate)).content.decode()
    assert survivor.number in html


# -- linking ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "consultant", "developer", "manager", "admin"])
def test_every_staff_role_links_and_unlinks(request, client_for, role, duplicate, survivor):
    client = client_for(request.getfixturevalue(role))
    response = client.post(_url("link", duplicate), {"other": survivor.number.lower()})
    assert response.status_code == 302 and response["Location"] == _page(duplicate)
    assert TicketLink.objects.count() == 1
    response = client.post(_url("link", duplicate), {"other": survivor.number})
    assert response.status_code == 302  # twice is no error
    assert TicketLink.objects.count() == 1
    response = client.post(_url("unlink", survivor), {"other": duplicate.number})
    assert response.status_code == 302
    assert not TicketLink.objects.exists()


def test_linking_an_unknown_number_reshows_the_page_with_what_was_typed(
    client_for, operator, duplicate
):
    response = client_for(operator).post(_url("link", duplicate), {"other": "AC-1999-000999"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "There is no request AC-1999-000999 that you may see." in html
    assert 'value="AC-1999-000999"' in html


def test_linking_across_customers_is_refused_with_a_message(
    client_for, operator, duplicate, outsider, other_org
):
    elsewhere = ticket_for(outsider, other_org)
    response = client_for(operator).post(_url("link", duplicate), {"other": elsewhere.number})
    assert response.status_code == 400
    assert "different customers" in response.content.decode()
    assert not TicketLink.objects.exists()


def test_a_restricted_agent_gets_404_and_cannot_name_a_hidden_request(
    client_for, restricted, duplicate, survivor, outsider, other_org
):
    client = client_for(restricted)
    for name in ("link", "unlink", "merge"):
        assert client.post(_url(name, duplicate), {"other": survivor.number}).status_code == 404
    theirs = ticket_for(outsider, other_org)
    response = client.post(_url("link", theirs), {"other": duplicate.number})
    assert response.status_code == 400
    assert f"There is no request {duplicate.number} that you may see." in response.content.decode()
    assert not TicketLink.objects.exists()


@pytest.mark.parametrize("role", ["owner", "coordinator", "outsider"])
def test_customers_get_403(request, client_for, role, duplicate, survivor):
    client = client_for(request.getfixturevalue(role))
    for name in ("link", "unlink", "merge"):
        response = client.post(_url(name, duplicate), _merge_form(survivor, other=survivor.number))
        assert response.status_code == 403
    assert not TicketLink.objects.exists()
    assert _fresh(duplicate).merged_into_id is None


def test_the_endpoints_are_post_only(client_for, operator, duplicate):
    client = client_for(operator)
    for name in ("link", "unlink", "merge"):
        assert client.get(_url(name, duplicate)).status_code == 405


# -- merging ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "consultant", "manager", "admin"])
def test_staff_who_triage_merge_and_land_on_the_survivor(
    request, client_for, role, duplicate, survivor
):
    client = client_for(request.getfixturevalue(role))
    response = client.post(_url("merge", duplicate), _merge_form(survivor))
    assert response.status_code == 302 and response["Location"] == _page(survivor)
    duplicate = _fresh(duplicate)
    assert (duplicate.status, duplicate.merged_into_id) == (Status.REJECTED, survivor.pk)
    assert Message.objects.filter(ticket=survivor, body="Same again.").exists()
    page = client.get(_page(survivor)).content.decode()
    assert f"{duplicate.number}</a> was merged into this request." in page
    old = client.get(_page(duplicate)).content.decode()
    assert 'id="merged-banner"' in old and _page(survivor) in old
    assert 'id="merge-form"' not in old


def test_a_developer_may_not_merge(client_for, developer, duplicate, survivor):
    response = client_for(developer).post(_url("merge", duplicate), _merge_form(survivor))
    assert response.status_code == 403
    assert "You may not merge requests." in response.content.decode()
    assert _fresh(duplicate).merged_into_id is None


def test_a_merge_without_the_confirmation_keeps_what_was_typed(
    client_for, operator, duplicate, survivor
):
    response = client_for(operator).post(
        _url("merge", duplicate), _merge_form(survivor, confirm="")
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "tick the box to confirm" in html
    assert f'value="{survivor.number}"' in html and "Same error</textarea>" in html
    assert '<details class="related-merge" id="merge" open>' in html
    assert _fresh(duplicate).merged_into_id is None


def test_a_refused_merge_says_why(client_for, operator, duplicate, survivor):
    Ticket.objects.filter(pk=survivor.pk).update(status=Status.ARCHIVED)
    response = client_for(operator).post(_url("merge", duplicate), _merge_form(survivor))
    assert response.status_code == 400
    assert "is closed" in response.content.decode()
    assert _fresh(duplicate).merged_into_id is None


def test_maintenance_mode_refuses_the_merge(client_for, operator, duplicate, survivor):
    maintenance.switch(True, message="Back soon.", by="tests")
    try:
        response = client_for(operator).post(_url("merge", duplicate), _merge_form(survivor))
    finally:
        maintenance.switch(False, by="tests")
    assert response.status_code == 503
    assert _fresh(duplicate).merged_into_id is None


# -- the portal ---------------------------------------------------------------------------


def test_the_portal_shows_the_banner_with_a_link_when_the_customer_may_see_the_survivor(
    client_for, owner, operator, duplicate, survivor
):
    merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
    html = client_for(owner).get(reverse("portal:detail", args=[duplicate.number])).content.decode()
    assert 'id="merged-banner"' in html
    assert reverse("portal:detail", args=[survivor.number]) in html


def test_the_portal_banner_does_not_link_a_request_the_customer_may_not_see(
    client_for, owner, teammate, operator, duplicate, org
):
    theirs = ticket_for(teammate, org, subject="Secret subject of the teammate")
    merge.merge(duplicate=duplicate, survivor=theirs, actor=operator)
    html = client_for(owner).get(reverse("portal:detail", args=[duplicate.number])).content.decode()
    assert 'id="merged-banner"' in html
    assert reverse("portal:detail", args=[theirs.number]) not in html
    assert "Secret subject" not in html
