"""The bell and the followers over the API: each caller sees only their own notices about
what they may see, and adds followers only as the pages allow."""

from __future__ import annotations

import pytest

from aftercare.accounts.roles import Role
from aftercare.api.tests.conftest import API
from aftercare.desk import services as desk
from aftercare.notifications.models import Follower, Notification
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db


def test_my_notifications_newest_first_and_marked_read(
    api_client, ticket, operator, consultant, manager
):
    desk.assign(ticket=ticket, actor=operator, assignee=consultant)
    desk.reply(ticket=ticket, actor=operator, internal=True, body="@consultant have a look")
    client = api_client(consultant)
    body = client.get(f"{API}/notifications").json()
    assert [n["kind"] for n in body["items"]] == ["mention", "assigned"]
    assert body["unread"] == 2 and body["items"][0]["ticket"] == ticket.number
    assert "mentioned you" in body["items"][0]["text"]
    assert api_client(manager).get(f"{API}/notifications").json()["items"] == []
    first = body["items"][0]["id"]
    # Someone else's ids are ignored, not marked.
    other = api_client(manager).post_json(f"{API}/notifications/read", {"ids": [first]})
    assert other.json()["marked"] == 0
    done = client.post_json(f"{API}/notifications/read", {"ids": [first]}).json()
    assert done == {"marked": 1, "unread": 1}
    unread = client.get(f"{API}/notifications", {"unread": "true"}).json()["items"]
    assert [n["kind"] for n in unread] == ["assigned"]
    assert client.post_json(f"{API}/notifications/read", {}).status_code == 422
    assert client.post_json(f"{API}/notifications/read", {"all": True}).json()["unread"] == 0


def test_notifications_about_requests_out_of_reach_are_not_listed(
    api_client, ticket, operator, org, other_org
):
    agent = staff(Role.CONSULTANT, username="a_agent")
    AgentRestriction.objects.create(user=agent, organisation=org)
    desk.assign(ticket=ticket, actor=operator, assignee=agent)
    client = api_client(agent)
    assert len(client.get(f"{API}/notifications").json()["items"]) == 1
    AgentRestriction.objects.filter(user=agent).update(organisation=other_org)
    assert client.get(f"{API}/notifications").json() == {
        "items": [],
        "unread": 0,
        "next_cursor": None,
        "prev_cursor": None,
    }
    assert Notification.objects.filter(user=agent).count() == 1  # kept, just hidden


def test_followers_over_the_api_as_each_role(
    api_client, ticket, operator, developer, owner, teammate, outsider, other_org
):
    url = f"{API}/tickets/{ticket.number}/followers"
    assert api_client(operator).post_json(url, {"user_id": developer.pk}).status_code == 201
    assert api_client(owner).post_json(url, {"user_id": teammate.pk}).status_code == 201
    # A customer does not add staff; a customer of B cannot even find the request.
    assert api_client(owner).post_json(url, {"user_id": operator.pk}).status_code == 403
    assert api_client(outsider).get(url).status_code == 404
    b_agent = staff(Role.OPERATOR, username="b_agent")
    AgentRestriction.objects.create(user=b_agent, organisation=other_org)
    assert api_client(b_agent).post_json(url, {"user_id": b_agent.pk}).status_code == 404
    refused = api_client(operator).post_json(url, {"user_id": b_agent.pk})
    assert refused.status_code == 422 and refused.json()["code"] == "validation_error"
    staff_view = {f["role"] for f in api_client(operator).get(url).json()}
    customer_view = [f["user"]["id"] for f in api_client(owner).get(url).json()]
    assert staff_view == {"watcher", "cc"} and customer_view == [teammate.pk]
    assert api_client(owner).delete(f"{url}/{developer.pk}").status_code == 403
    assert api_client(operator).delete(f"{url}/{developer.pk}").status_code == 204
    assert api_client(operator).delete(f"{url}/{developer.pk}").status_code == 404
    assert set(Follower.objects.values_list("user__username", flat=True)) == {"teammate"}
