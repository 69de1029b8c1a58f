"""Replies, internal notes and files over the API."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from aftercare.api.tests.conftest import API, error_of
from aftercare.desk import services
from aftercare.desk.models import Attachment, Message, Status, Ticket
from aftercare.desk.tests.factories import PNG

pytestmark = pytest.mark.django_db

NOTE = "INTERNAL: their licence expired last month"


@pytest.fixture
def noted_ticket(ticket, consultant):
    services.reply(
        ticket=ticket,
        actor=consultant,
        body=NOTE,
        internal=True,
        attachments=[SimpleUploadedFile("internal-diagnosis.png", PNG)],
    )
    services.reply(
        ticket=ticket,
        actor=consultant,
        body="We are looking into it.",
        attachments=[SimpleUploadedFile("public-answer.png", PNG)],
    )
    return ticket


def test_it_never_gives_a_customer_an_internal_note(api_client, owner, coordinator, noted_ticket):
    for user in (owner, coordinator):
        client = api_client(user)
        comments = client.get(f"{API}/tickets/{noted_ticket.number}/comments")
        assert comments.status_code == 200
        bodies = [c["body"] for c in comments.json()["items"]]
        assert "We are looking into it." in bodies
        assert NOTE not in comments.content.decode()
        assert "internal-diagnosis.png" not in comments.content.decode()
        files = client.get(f"{API}/tickets/{noted_ticket.number}/attachments").json()
        assert [f["name"] for f in files] == ["public-answer.png"]
        hidden = Attachment.objects.get(name="internal-diagnosis.png")
        assert client.get(f"{API}/attachments/{hidden.pk}").status_code == 404


def test_it_gives_staff_the_internal_notes_too(api_client, consultant, noted_ticket):
    client = api_client(consultant)
    items = client.get(f"{API}/tickets/{noted_ticket.number}/comments").json()["items"]
    note = next(c for c in items if c["body"] == NOTE)
    assert note["kind"] == "internal"
    assert [a["name"] for a in note["attachments"]] == ["internal-diagnosis.png"]
    assert [c["kind"] for c in items] == ["public", "internal", "public"]
    files = client.get(f"{API}/tickets/{noted_ticket.number}/attachments").json()
    assert {f["name"] for f in files} == {"internal-diagnosis.png", "public-answer.png"}


def test_it_pages_the_conversation_oldest_first(api_client, consultant, noted_ticket):
    client = api_client(consultant)
    first = client.get(f"{API}/tickets/{noted_ticket.number}/comments", {"limit": 2}).json()
    assert len(first["items"]) == 2
    rest = client.get(
        f"{API}/tickets/{noted_ticket.number}/comments", {"after": first["next_cursor"]}
    ).json()
    assert [c["body"] for c in rest["items"]] == ["We are looking into it."]
    assert rest["next_cursor"] is None


def test_it_posts_a_public_reply(api_client, owner, ticket):
    response = api_client(owner).post_json(
        f"{API}/tickets/{ticket.number}/comments", {"body": "Any news?"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["channel"], body["author"]["id"]) == ("public", "api", owner.pk)
    assert Message.objects.filter(ticket=ticket, body="Any news?", channel="api").exists()


def test_it_posts_an_internal_note_for_staff_only(api_client, owner, consultant, ticket):
    refused = api_client(owner).post_json(
        f"{API}/tickets/{ticket.number}/comments", {"body": "Sneaky", "internal": True}
    )
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "permission_denied"
    assert not Message.objects.filter(body="Sneaky").exists()
    note = api_client(consultant).post_json(
        f"{API}/tickets/{ticket.number}/comments", {"body": "Check the ledger", "internal": True}
    )
    assert note.status_code == 201
    assert note.json()["kind"] == "internal"


def test_it_moves_a_waiting_request_back_when_the_customer_replies(api_client, owner, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(
        status=Status.WAITING, status_before_waiting=Status.SPRINT
    )
    api_client(owner).post_json(f"{API}/tickets/{ticket.number}/comments", {"body": "Here it is"})
    ticket.refresh_from_db()
    assert ticket.status == Status.SPRINT


def test_it_names_an_empty_comment(api_client, owner, ticket):
    for payload in ({"body": ""}, {"body": "   "}, {}):
        response = api_client(owner).post_json(f"{API}/tickets/{ticket.number}/comments", payload)
        assert response.status_code == 422
        assert "body" in error_of(response)["fields"]


def test_it_refuses_a_teammate_who_is_not_on_the_request(api_client, teammate, ticket):
    response = api_client(teammate).post_json(
        f"{API}/tickets/{ticket.number}/comments", {"body": "Hi"}
    )
    assert response.status_code == 404


# -- files ----------------------------------------------------------------------------


def _png(name="screen.png"):
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def test_it_uploads_files_with_a_reply(api_client, owner, ticket):
    response = api_client(owner).post(
        f"{API}/tickets/{ticket.number}/attachments",
        {"files": [_png("a.png"), _png("b.png")], "body": "Screenshots attached"},
    )
    assert response.status_code == 201, response.content
    names = [f["name"] for f in response.json()]
    assert names == ["a.png", "b.png"]
    message = Message.objects.get(ticket=ticket, body="Screenshots attached")
    assert message.channel == "api"
    assert message.attachments.count() == 2


def test_it_names_the_files_when_no_text_is_given(api_client, owner, ticket):
    api_client(owner).post(f"{API}/tickets/{ticket.number}/attachments", {"files": [_png()]})
    assert Message.objects.filter(ticket=ticket, body="screen.png").exists()


@pytest.mark.parametrize(
    "upload",
    [
        SimpleUploadedFile("tool.exe", b"MZ\x90\x00", content_type="application/octet-stream"),
        SimpleUploadedFile("fake.pdf", b"<html>not a pdf</html>", content_type="application/pdf"),
        SimpleUploadedFile("empty.txt", b"", content_type="text/plain"),
    ],
    ids=["executable", "wrong-signature", "empty"],
)
def test_it_refuses_a_file_the_pages_would_refuse(api_client, owner, ticket, upload):
    response = api_client(owner).post(
        f"{API}/tickets/{ticket.number}/attachments", {"files": [upload]}
    )
    assert response.status_code == 422
    assert "files" in error_of(response)["fields"]
    assert not Attachment.objects.filter(ticket=ticket).exists()


def test_it_refuses_too_many_files(api_client, owner, ticket, settings):
    settings.AFTERCARE_MAX_ATTACHMENTS_PER_MESSAGE = 1
    response = api_client(owner).post(
        f"{API}/tickets/{ticket.number}/attachments", {"files": [_png("a.png"), _png("b.png")]}
    )
    assert response.status_code == 422
    assert "files" in error_of(response)["fields"]


def test_it_needs_a_file(api_client, owner, ticket):
    response = api_client(owner).post(f"{API}/tickets/{ticket.number}/attachments", {"body": "x"})
    assert response.status_code == 422
    assert "files" in error_of(response)["fields"]


def test_it_hides_internal_uploads_from_the_customer(api_client, owner, consultant, ticket):
    response = api_client(consultant).post(
        f"{API}/tickets/{ticket.number}/attachments",
        {"files": [_png("diagnosis.png")], "internal": "true"},
    )
    assert response.status_code == 201, response.content
    assert response.json()[0]["is_internal"] is True
    customer = api_client(owner)
    assert customer.get(f"{API}/tickets/{ticket.number}/attachments").json() == []
    att = Attachment.objects.get(name="diagnosis.png")
    assert customer.get(f"{API}/attachments/{att.pk}").status_code == 404


def test_it_refuses_an_internal_upload_by_a_customer(api_client, owner, ticket):
    response = api_client(owner).post(
        f"{API}/tickets/{ticket.number}/attachments", {"files": [_png()], "internal": "true"}
    )
    assert response.status_code == 403
    assert not Attachment.objects.exists()


def test_it_downloads_a_file_with_the_headers_of_the_pages(
    api_client, owner, noted_ticket, client_for
):
    att = Attachment.objects.get(name="public-answer.png")
    api = api_client(owner).get(f"{API}/attachments/{att.pk}")
    assert api.status_code == 200
    assert b"".join(api.streaming_content) == PNG
    page = client_for(owner).get(reverse("desk:attachment", args=[att.pk]))
    b"".join(page.streaming_content)
    for header in (
        "Content-Type",
        "Content-Disposition",
        "X-Content-Type-Options",
        "Content-Security-Policy",
        "Cache-Control",
    ):
        assert api[header] == page[header], header
    assert api["Content-Disposition"].startswith('attachment; filename="public-answer.png"')


def test_it_links_each_file_to_its_download(api_client, owner, noted_ticket):
    files = api_client(owner).get(f"{API}/tickets/{noted_ticket.number}/attachments").json()
    response = api_client(owner).get(files[0]["download_url"])
    assert response.status_code == 200
    b"".join(response.streaming_content)
