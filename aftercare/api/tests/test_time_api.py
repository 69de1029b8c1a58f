"""Time spent over the API: staff read and record; customers and outsiders do not."""

from __future__ import annotations

import pytest

from aftercare.api.tests.conftest import API, error_of
from aftercare.desk import services as desk_services
from aftercare.timetracking import services
from aftercare.timetracking.models import TimeEntry

pytestmark = pytest.mark.django_db


def test_an_agent_records_and_reads_time(api_client, operator, ticket):
    client = api_client(operator)
    message = desk_services.reply(ticket=ticket, actor=operator, body="Done.")
    response = client.post_json(
        f"{API}/tickets/{ticket.number}/time",
        {"minutes": "1h 30m", "note": "call", "message_id": message.pk},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["minutes"], body["note"], body["message_id"]) == (90, "call", message.pk)
    client.post_json(f"{API}/tickets/{ticket.number}/time", {"minutes": 15})
    listing = client.get(f"{API}/tickets/{ticket.number}/time").json()
    assert listing["total_minutes"] == 105 and listing["total_hours"] == "1:45"
    assert len(listing["entries"]) == 2


@pytest.mark.parametrize("minutes", [0, 2000, "soon"])
def test_bad_minutes_are_refused(api_client, operator, ticket, minutes):
    response = api_client(operator).post_json(
        f"{API}/tickets/{ticket.number}/time", {"minutes": minutes}
    )
    assert response.status_code in (400, 422)
    assert "minutes" in error_of(response)["fields"]
    assert not TimeEntry.objects.exists()


def test_a_message_of_another_request_is_refused(api_client, operator, ticket, owner, org):
    from aftercare.desk.tests.factories import ticket_for

    other = ticket_for(owner, org, subject="Other")
    message = desk_services.reply(ticket=other, actor=operator, body="Elsewhere")
    response = api_client(operator).post_json(
        f"{API}/tickets/{ticket.number}/time", {"minutes": 5, "message_id": message.pk}
    )
    assert response.status_code in (400, 422)
    assert not TimeEntry.objects.exists()


def test_customers_get_403_whatever_request_they_name(
    api_client, owner, coordinator, outsider, operator, ticket
):
    services.record(ticket=ticket, actor=operator, minutes=10)
    for user in (owner, coordinator, outsider):
        client = api_client(user)
        assert client.get(f"{API}/tickets/{ticket.number}/time").status_code == 403
        response = client.post_json(f"{API}/tickets/{ticket.number}/time", {"minutes": 5})
        assert response.status_code == 403
        assert client.get(f"{API}/tickets/AC-1999-999999/time").status_code == 403
    assert TimeEntry.objects.count() == 1


def test_a_restricted_agent_gets_404_on_another_organisation(
    api_client, restricted_operator, b_ticket
):
    client = api_client(restricted_operator)
    assert client.get(f"{API}/tickets/{b_ticket.number}/time").status_code == 404
    response = client.post_json(f"{API}/tickets/{b_ticket.number}/time", {"minutes": 5})
    assert response.status_code == 404
    assert not TimeEntry.objects.exists()
