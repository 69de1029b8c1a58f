"""Organisation A's people against organisation B's data, through every endpoint.

Each call names B's request, organisation, file or comment. The answer must be the 404
a missing object gets (never 403, which would confirm B's data exists), must show none
of B's data, and B must be unchanged afterwards.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from aftercare.api.tests.conftest import API, error_of
from aftercare.desk.models import Attachment, Message, Ticket
from aftercare.desk.tests.factories import PNG

pytestmark = pytest.mark.django_db

# (method, path, payload): {number}, {code}, {attachment} are B's.
CALLS = [
    ("get", "/tickets/{number}", None),
    ("patch", "/tickets/{number}", {"version": "{version}", "priority": 1, "priority_reason": "x"}),
    ("patch", "/tickets/{number}", {"version": "{version}", "category": "problem"}),
    ("patch", "/tickets/{number}", {"version": "{version}", "assignee": None}),
    ("post", "/tickets/{number}/transitions", {"target": "archived"}),
    ("post", "/tickets/{number}/transitions", {"target": "rejected", "reason": "x"}),
    ("get", "/tickets/{number}/comments", None),
    ("post", "/tickets/{number}/comments", {"body": "Injected reply"}),
    ("post", "/tickets/{number}/comments", {"body": "Injected note", "internal": True}),
    ("get", "/tickets/{number}/attachments", None),
    ("upload", "/tickets/{number}/attachments", None),
    ("get", "/attachments/{attachment}", None),
    ("get", "/organisations/{code}", None),
    ("get", "/organisations/{code}/systems", None),
]
AGENT_ONLY = [("get", "/tickets/{number}/sla", None), ("get", "/users/{user}", None)]


def _fill(value, b_ticket):
    values = {
        "number": b_ticket.number,
        "code": b_ticket.organisation.code,
        "attachment": b_ticket.attachments.get().pk,
        "version": b_ticket.version,
        "user": b_ticket.reporter_id,
    }
    if isinstance(value, str):
        if value == "{version}":
            return values["version"]
        return value.format(**values)
    if isinstance(value, dict):
        return {k: _fill(v, b_ticket) for k, v in value.items()}
    return value


def _call(client, method, path, payload, b_ticket):
    url = f"{API}{_fill(path, b_ticket)}"
    if method == "get":
        return client.get(url)
    if method == "upload":
        upload = SimpleUploadedFile("injected.png", PNG, content_type="image/png")
        return client.post(url, {"files": [upload], "body": "Injected file"})
    return getattr(client, f"{method}_json")(url, _fill(payload, b_ticket))


def _snapshot(b_ticket) -> tuple:
    fresh = Ticket.objects.get(pk=b_ticket.pk)
    return (
        fresh.status,
        fresh.priority,
        fresh.category,
        fresh.version,
        fresh.assignee_id,
        list(Message.objects.filter(ticket=fresh).values_list("pk", flat=True)),
        list(Attachment.objects.filter(ticket=fresh).values_list("pk", flat=True)),
    )


def _assert_hidden(response, b_ticket):
    assert response.status_code == 404, (response.status_code, response.content)
    assert error_of(response)["code"] == "not_found"
    body = response.content.decode()
    for secret in (b_ticket.subject, b_ticket.number, b_ticket.organisation.name):
        assert secret not in body


@pytest.mark.parametrize("role", ["owner", "coordinator"])
@pytest.mark.parametrize(("method", "path", "payload"), CALLS, ids=lambda v: str(v))
def test_it_answers_404_to_a_customer_of_a_for_anything_of_b(
    request, api_client, role, method, path, payload, b_ticket
):
    before = _snapshot(b_ticket)
    client = api_client(request.getfixturevalue(role))
    _assert_hidden(_call(client, method, path, payload, b_ticket), b_ticket)
    assert _snapshot(b_ticket) == before


@pytest.mark.parametrize(("method", "path", "payload"), CALLS + AGENT_ONLY, ids=lambda v: str(v))
def test_it_answers_404_to_an_agent_restricted_to_a(
    api_client, restricted_operator, method, path, payload, b_ticket
):
    before = _snapshot(b_ticket)
    response = _call(api_client(restricted_operator), method, path, payload, b_ticket)
    _assert_hidden(response, b_ticket)
    assert _snapshot(b_ticket) == before


@pytest.mark.parametrize(("method", "path", "payload"), AGENT_ONLY, ids=lambda v: str(v))
def test_it_answers_403_to_customers_on_staff_endpoints_whatever_they_name(
    api_client, owner, method, path, payload, b_ticket
):
    response = _call(api_client(owner), method, path, payload, b_ticket)
    assert response.status_code == 403
    assert b_ticket.subject not in response.content.decode()


def test_it_keeps_b_out_of_a_customers_lists(api_client, owner, b_ticket, ticket):
    client = api_client(owner)
    for path in ("/tickets?status=all", "/organisations", "/me"):
        body = client.get(f"{API}{path}").content.decode()
        assert b_ticket.number not in body
        assert b_ticket.organisation.name not in body
    assert [t["number"] for t in client.get(f"{API}/tickets").json()["items"]] == [ticket.number]


def test_it_answers_the_rightful_customer(api_client, outsider, b_ticket):
    """Control: the 404s above mean "not yours", not "no such thing"."""
    client = api_client(outsider)
    for method, path, payload in CALLS[:1] + CALLS[6:7] + CALLS[9:10] + CALLS[11:]:
        response = _call(client, method, path, payload, b_ticket)
        assert response.status_code == 200, (path, response.status_code)
        if response.streaming:
            b"".join(response.streaming_content)  # closes the file
