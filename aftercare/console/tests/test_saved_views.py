"""Saved queue views: personal ones stay private, shared ones are curated by managers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from aftercare.console.models import SavedView
from aftercare.desk.models import Priority, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.tenancy.models import AgentRestriction

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(operator):
    return SavedView.objects.create(name="My urgent", owner=operator, query="priority=1")


@pytest.fixture
def shared(manager):
    return SavedView.objects.create(
        name="Team waiting", owner=manager, is_shared=True, query="status=waiting", sort="sla"
    )


def _at(action: str, view) -> str:
    return reverse(f"console:view-{action}") + f"?view={view.pk}"


def _labels(response, group) -> list[str]:
    return [v["label"] for v in response.context["views"][group]]


def test_it_saves_the_current_filters_as_a_personal_view(client_for, operator):
    client = client_for(operator)
    response = client.post(
        reverse("console:view-create"),
        {"name": "Urgent L2", "query": "q=&priority=1&level=2&status=open&sort=sla&after=xyz"},
    )
    view = SavedView.objects.get()
    assert (view.owner, view.is_shared) == (operator, False)
    assert view.filters().dict() == {"priority": "1", "level": "2"}
    assert view.sort == "sla"
    assert response["Location"] == reverse("console:queue") + "?" + view.url_query()
    assert _labels(client.get(reverse("console:queue")), "mine") == ["Urgent L2"]


def test_it_refuses_unknown_or_invalid_filters(client_for, operator):
    client = client_for(operator)
    client.post(reverse("console:view-create"), {"name": "x", "query": "evil=1"})
    client.post(reverse("console:view-create"), {"name": "x", "query": "category=nonsense"})
    client.post(reverse("console:view-create"), {"name": "", "query": "priority=1"})
    assert not SavedView.objects.exists()


def test_it_ignores_the_shared_flag_from_an_agent_who_may_not_share(client_for, operator):
    client_for(operator).post(
        reverse("console:view-create"), {"name": "Mine", "query": "level=2", "shared": "on"}
    )
    assert SavedView.objects.get().is_shared is False


def test_it_lets_a_manager_share_a_view(client_for, manager, operator):
    client_for(manager).post(
        reverse("console:view-create"), {"name": "Everyone's", "query": "level=2", "shared": "on"}
    )
    assert SavedView.objects.get().is_shared is True
    assert _labels(client_for(operator).get(reverse("console:queue")), "shared") == ["Everyone's"]


def test_it_keeps_a_personal_view_private(client_for, mine, consultant, manager):
    for other in (consultant, manager):
        client = client_for(other)
        assert "My urgent" not in client.get(reverse("console:queue")).content.decode()
        assert "My urgent" not in client.get(reverse("console:views")).content.decode()
        assert client.get(_at("edit", mine)).status_code == 404
        edit = client.post(_at("edit", mine), {"name": "Stolen", "query": ""})
        assert edit.status_code == 404
        assert client.post(_at("delete", mine)).status_code == 404
        assert client.post(_at("move", mine)).status_code == 404
    mine.refresh_from_db()
    assert mine.name == "My urgent"


def test_it_lets_the_owner_edit_and_delete_their_view(client_for, operator, mine):
    client = client_for(operator)
    assert client.get(_at("edit", mine)).status_code == 200
    response = client.post(
        _at("edit", mine),
        {"name": "Renamed", "query": "priority=2", "sort": "-created"},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert (mine.name, mine.query, mine.sort) == ("Renamed", "priority=2", "-created")
    client.post(_at("delete", mine))
    assert not SavedView.objects.exists()


def test_it_shows_shared_views_to_everyone_but_lets_only_managers_change_them(
    client_for, shared, operator, consultant, manager
):
    for agent in (operator, consultant):
        client = client_for(agent)
        assert _labels(client.get(reverse("console:queue")), "shared") == ["Team waiting"]
        assert client.get(_at("edit", shared)).status_code == 403
        assert client.post(_at("edit", shared), {"name": "Hijacked"}).status_code == 403
        assert client.post(_at("delete", shared)).status_code == 403
        assert client.post(_at("move", shared)).status_code == 403
    shared.refresh_from_db()
    assert shared.name == "Team waiting"
    response = client_for(manager).post(
        _at("edit", shared),
        {"name": "Waiting on customers", "query": "status=waiting", "sort": "sla", "shared": "on"},
    )
    assert response.status_code == 302
    shared.refresh_from_db()
    assert shared.name == "Waiting on customers" and shared.is_shared


def test_it_reorders_shared_views(client_for, manager):
    a = SavedView.objects.create(name="A", owner=manager, is_shared=True, position=0)
    b = SavedView.objects.create(name="B", owner=manager, is_shared=True, position=1)
    client = client_for(manager)
    client.post(_at("move", b), {"direction": "up"})
    assert list(SavedView.objects.filter(is_shared=True).values_list("name", flat=True)) == [
        "B",
        "A",
    ]
    client.post(_at("move", b), {"direction": "down"})
    assert [v.name for v in SavedView.objects.filter(is_shared=True)] == ["A", "B"]
    assert a.pk


def test_it_opens_a_view_with_exactly_its_filters_and_counts_it(client_for, operator, owner, org):
    urgent = ticket_for(owner, org, subject="Urgent one")
    Ticket.objects.filter(pk=urgent.pk).update(priority=Priority.CRITICAL)
    ticket_for(owner, org, subject="Normal one")
    view = SavedView.objects.create(name="Urgent", owner=operator, query="priority=1", sort="sla")
    client = client_for(operator)
    sidebar = client.get(reverse("console:queue")).context["views"]["mine"]
    assert [(v["label"], v["count"]) for v in sidebar] == [("Urgent", 1)]
    response = client.get(sidebar[0]["href"])
    assert [t.number for t in response.context["page"].rows] == [urgent.number]
    assert [v["active"] for v in response.context["views"]["mine"]] == [True]
    assert view.pk


def test_it_leaks_nothing_of_a_shared_view_on_an_organisation_out_of_reach(
    client_for, manager, operator, org, other_org, outsider, owner
):
    ticket_for(outsider, other_org, subject="Beta secret")
    ticket_for(owner, org, subject="Alpha visible")
    view = SavedView.objects.create(
        name="Beta escalations",
        owner=manager,
        is_shared=True,
        query=f"organisation={other_org.pk}",
    )
    AgentRestriction.objects.create(user=operator, organisation=org)
    client = client_for(operator)
    queue = client.get(reverse("console:queue"))
    body = queue.content.decode()
    assert "Beta escalations" not in body and other_org.name not in body
    assert client.get(reverse("console:views")).content.decode().count("Beta escalations") == 0
    # Opening its address anyway shows nothing rather than every request.
    opened = client.get(reverse("console:queue") + "?" + view.url_query())
    assert opened.context["page"].rows == []
    assert other_org.name not in opened.content.decode()
    assert "Beta secret" not in opened.content.decode()
    assert client.get(_at("edit", view)).status_code == 404
    # An unrestricted agent sees it, and its request.
    assert _labels(client_for(manager).get(reverse("console:queue")), "shared") == [
        "Beta escalations"
    ]


def test_it_refuses_a_restricted_agents_view_on_an_organisation_out_of_reach(
    client_for, operator, org, other_org
):
    AgentRestriction.objects.create(user=operator, organisation=org)
    response = client_for(operator).post(
        reverse("console:view-create"),
        {"name": "Peek", "query": f"organisation={other_org.pk}"},
        follow=True,
    )
    assert not SavedView.objects.exists()
    assert other_org.name not in response.content.decode()


def test_it_keeps_customers_and_strangers_out(client, client_for, owner, mine):
    for url in (reverse("console:views"), _at("edit", mine)):
        assert client_for(owner).get(url).status_code == 403
        assert client.get(url).status_code == 302
    assert client_for(owner).post(reverse("console:view-create"), {"name": "x"}).status_code == 403
