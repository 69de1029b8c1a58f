"""The customer portal, tried by the three-user cast: owner, teammate and outsider."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from aftercare.desk import services
from aftercare.desk.models import Attachment, Category, Channel, Message, Priority, Status, Ticket
from aftercare.desk.tests.factories import PNG, ticket_for
from aftercare.tenancy.tests.factories import OrganisationFactory, SystemFactory, customer

pytestmark = pytest.mark.django_db


def _request(org, **extra):
    return {
        "organisation": org.pk,
        "category": Category.INCIDENT,
        "priority": Priority.HIGH,
        "subject": "Scanner rejects every barcode",
        "description": "Since this morning every scan fails.",
        "conditions": "Warehouse 2, any product.",
        **extra,
    }


def _download(client, att) -> tuple[int, bytes]:
    response = client.get(reverse("desk:attachment", args=[att.pk]))
    if response.status_code != 200:
        return response.status_code, b""
    # Reading to the end closes the file (the test client wraps the iterator).
    return 200, b"".join(response.streaming_content)


def _detail(ticket):
    return reverse("portal:detail", args=[ticket.number])


def _released(ticket, consultant):
    for target in (Status.IN_PROGRESS, Status.DONE, Status.RELEASED):
        services.transition(ticket=ticket, actor=consultant, target=target)
    ticket.refresh_from_db()
    return ticket


# -- filing a request ------------------------------------------------------------------


@pytest.fixture
def filed(client_for, owner, org):
    response = client_for(owner).post(
        reverse("portal:new"),
        _request(org, files=SimpleUploadedFile("scan.png", PNG, content_type="image/png")),
    )
    return response, Ticket.objects.get(subject="Scanner rejects every barcode")


def test_it_files_a_request_with_a_screenshot(filed, owner, org):
    response, ticket = filed
    assert response.status_code == 302
    assert response["Location"] == _detail(ticket)
    assert (ticket.reporter, ticket.created_by, ticket.organisation) == (owner, owner, org)
    assert (ticket.channel, ticket.status, ticket.customer_priority) == (
        Channel.PORTAL,
        Status.BACKLOG,
        Priority.HIGH,
    )
    att = ticket.attachments.get()
    assert (att.name, att.content_type, att.size, att.is_internal) == (
        "scan.png",
        "image/png",
        len(PNG),
        False,
    )
    assert any(ticket.number in str(m) for m in get_messages(response.wsgi_request))


def test_it_lets_the_reporter_and_the_coordinator_download_the_screenshot(
    filed, client_for, owner, coordinator
):
    att = filed[1].attachments.get()
    assert _download(client_for(owner), att) == (200, PNG)
    assert _download(client_for(coordinator), att) == (200, PNG)


def test_it_serves_a_download_as_a_file_not_a_page(filed, client_for, owner):
    att = filed[1].attachments.get()
    response = client_for(owner).get(reverse("desk:attachment", args=[att.pk]))
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == PNG


def test_it_hides_the_screenshot_from_a_teammate_and_an_outsider(
    filed, client_for, teammate, outsider
):
    att = filed[1].attachments.get()
    assert _download(client_for(teammate), att)[0] == 404
    assert _download(client_for(outsider), att)[0] == 404


def test_it_refuses_a_program_and_keeps_what_was_typed(client_for, owner, org, settings):
    response = client_for(owner).post(
        reverse("portal:new"),
        _request(
            org,
            subject="Typed subject survives",
            files=SimpleUploadedFile("setup.exe", b"MZ\x90\x00" + b"\x00" * 60),
        ),
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Files of type “exe” are not accepted" in body
    assert 'value="Typed subject survives"' in body
    assert "Since this morning every scan fails." in body
    assert not Ticket.objects.exists()
    assert not Attachment.objects.exists()
    media = settings.MEDIA_ROOT
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]


def test_it_refuses_a_program_renamed_to_an_image(client_for, owner, org):
    response = client_for(owner).post(
        reverse("portal:new"),
        _request(org, files=SimpleUploadedFile("photo.png", b"MZ\x90\x00" + b"\x00" * 60)),
    )
    assert response.status_code == 400
    assert "looks like a program" in response.content.decode()
    assert not Ticket.objects.exists()


def test_it_refuses_to_file_for_another_organisation(client_for, owner, org, other_org):
    response = client_for(owner).post(reverse("portal:new"), _request(other_org))
    assert response.status_code == 400
    assert not Ticket.objects.exists()


def test_it_refuses_a_system_of_another_organisation(client_for, owner, org, other_org):
    foreign = SystemFactory(organisation=other_org)
    response = client_for(owner).post(reverse("portal:new"), _request(org, system=foreign.pk))
    assert response.status_code == 400
    assert not Ticket.objects.exists()


def test_it_files_against_one_of_the_organisations_systems(client_for, owner, org):
    system = SystemFactory(organisation=org, name="Shop ERP")
    form = client_for(owner).get(reverse("portal:new")).content.decode()
    assert "Shop ERP" in form
    client_for(owner).post(reverse("portal:new"), _request(org, system=system.pk))
    assert Ticket.objects.get().system == system


def test_it_lets_a_member_of_two_organisations_choose(client_for, owner, org):
    second = OrganisationFactory(name="Gamma Retail", code="gamma")
    from aftercare.tenancy.models import Membership

    Membership.objects.create(user=owner, organisation=second)
    client = client_for(owner)
    assert "Gamma Retail" in client.get(reverse("portal:new")).content.decode()
    client.post(reverse("portal:new"), _request(second))
    assert Ticket.objects.get().organisation == second


def test_it_turns_away_a_user_without_an_organisation(client_for):
    from aftercare.tenancy.tests.factories import UserFactory

    loner = UserFactory(username="loner")
    assert client_for(loner).get(reverse("portal:new")).status_code == 403


# -- seeing requests -------------------------------------------------------------------


def test_it_lists_only_the_reporters_own_requests(client_for, ticket, teammate, org):
    theirs = ticket_for(teammate, org, subject="Teammate's printer")
    body = client_for(teammate).get(reverse("portal:list"), {"tab": "all"}).content.decode()
    assert theirs.number in body
    assert ticket.number not in body and ticket.subject not in body


def test_it_hides_a_teammates_request_page(client_for, ticket, teammate, outsider):
    assert client_for(teammate).get(_detail(ticket)).status_code == 404
    assert client_for(outsider).get(_detail(ticket)).status_code == 404


def test_it_shows_the_coordinator_every_request_of_the_organisation(
    client_for, ticket, teammate, coordinator, org, other_org, outsider
):
    theirs = ticket_for(teammate, org, subject="Teammate's printer")
    foreign = ticket_for(outsider, other_org, subject="Beta conveyor")
    response = client_for(coordinator).get(reverse("portal:list"))
    numbers = {t.number for t in response.context["page"].rows}
    assert numbers == {ticket.number, theirs.number}
    assert foreign.subject not in response.content.decode()
    assert client_for(coordinator).get(_detail(theirs)).status_code == 200
    assert client_for(coordinator).get(_detail(foreign)).status_code == 404


@pytest.mark.parametrize(
    ("tab", "shown"),
    [
        ("open", {"open", "released"}),
        ("closed", {"archived"}),
        ("all", {"open", "released", "archived"}),
    ],
)
def test_it_splits_requests_into_tabs(client_for, owner, org, consultant, tab, shown):
    made = {
        "open": ticket_for(owner, org, subject="Still open"),
        "released": _released(ticket_for(owner, org, subject="Fixed"), consultant),
        "archived": ticket_for(owner, org, subject="Long gone"),
    }
    Ticket.objects.filter(pk=made["archived"].pk).update(status=Status.ARCHIVED)
    response = client_for(owner).get(reverse("portal:list"), {"tab": tab})
    assert {t.number for t in response.context["page"].rows} == {made[k].number for k in shown}


# -- replying and deciding -------------------------------------------------------------


def test_it_sends_the_customers_reply(client_for, ticket, owner):
    response = client_for(owner).post(
        _detail(ticket),
        {
            "action": "reply",
            "body": "It happens on register 2 as well.",
            "files": SimpleUploadedFile("log.txt", b"error 42\n", content_type="text/plain"),
        },
    )
    assert response.status_code == 302
    message = Message.objects.get(ticket=ticket, body__startswith="It happens")
    assert (message.author, message.kind) == (owner, Message.Kind.PUBLIC)
    assert message.attachments.get().name == "log.txt"


def test_it_ignores_an_attempt_to_write_an_internal_note(client_for, ticket, owner):
    client_for(owner).post(
        _detail(ticket), {"action": "reply", "body": "Sneaky note", "internal": "on"}
    )
    assert Message.objects.get(body="Sneaky note").kind == Message.Kind.PUBLIC


def test_it_resumes_a_waiting_request_when_the_customer_answers(
    client_for, ticket, owner, consultant
):
    services.transition(ticket=ticket, actor=consultant, target=Status.IN_PROGRESS)
    services.transition(ticket=ticket, actor=consultant, target=Status.WAITING)
    client_for(owner).post(_detail(ticket), {"action": "reply", "body": "Here is the file."})
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS


def test_it_lets_the_customer_accept_the_result(client_for, ticket, owner, consultant):
    _released(ticket, consultant)
    response = client_for(owner).post(
        _detail(ticket),
        {"action": "transition", "target": Status.ARCHIVED, "version": ticket.version},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.ARCHIVED and ticket.closed_at is not None


def test_it_asks_why_the_customer_reopens(client_for, ticket, owner, consultant):
    _released(ticket, consultant)
    client = client_for(owner)
    response = client.post(
        _detail(ticket), {"action": "transition", "target": Status.IN_PROGRESS, "reason": ""}
    )
    assert response.status_code == 400
    assert "Please give a reason for this change." in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RELEASED
    response = client.post(
        _detail(ticket),
        {"action": "transition", "target": Status.IN_PROGRESS, "reason": "Still fails on POS 3"},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.events.filter(new=Status.IN_PROGRESS, note="Still fails on POS 3").exists()


def test_it_offers_the_customer_no_workflow_moves_before_release(client_for, ticket, owner):
    response = client_for(owner).post(
        _detail(ticket), {"action": "transition", "target": Status.ARCHIVED}
    )
    assert response.status_code == 400
    assert "That action is not available for this request." in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.BACKLOG


def test_it_lets_a_coordinator_accept_a_teammates_request(
    client_for, ticket, coordinator, consultant
):
    _released(ticket, consultant)
    client_for(coordinator).post(
        _detail(ticket), {"action": "transition", "target": Status.ARCHIVED}
    )
    assert Ticket.objects.get(pk=ticket.pk).status == Status.ARCHIVED


def test_it_keeps_a_teammate_from_deciding_on_the_owners_request(
    client_for, ticket, teammate, consultant
):
    _released(ticket, consultant)
    response = client_for(teammate).post(
        _detail(ticket), {"action": "transition", "target": Status.ARCHIVED}
    )
    assert response.status_code == 404
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RELEASED


def test_it_refuses_a_decision_on_a_stale_page(client_for, ticket, owner, consultant):
    _released(ticket, consultant)
    stale = ticket.version
    services.reply(ticket=ticket, actor=consultant, body="One more detail.")
    response = client_for(owner).post(
        _detail(ticket), {"action": "transition", "target": Status.ARCHIVED, "version": stale}
    )
    assert response.status_code == 400
    assert "was changed by someone else" in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RELEASED


def test_it_stops_replies_on_an_archived_request(client_for, ticket, owner):
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.ARCHIVED)
    client = client_for(owner)
    assert 'id="reply-form"' not in client.get(_detail(ticket)).content.decode()
    response = client.post(_detail(ticket), {"action": "reply", "body": "Hello?"})
    assert response.status_code == 400
    assert not Message.objects.filter(body="Hello?").exists()


def test_it_explains_why_a_reply_to_an_archived_request_is_refused(client_for, ticket, owner):
    client = client_for(owner)
    client.get(_detail(ticket))  # the page is open...
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.ARCHIVED)  # ...archived meanwhile
    response = client.post(_detail(ticket), {"action": "reply", "body": "Hello?"})
    assert response.status_code == 400
    assert "This request is archived" in response.content.decode()


# -- staff in the portal ---------------------------------------------------------------


def test_it_sends_an_agent_from_the_portal_to_the_console(client_for, operator, ticket):
    client = client_for(operator)
    response = client.get(reverse("portal:list"))
    assert response.status_code == 302 and response["Location"] == reverse("console:queue")
    response = client.get(_detail(ticket))
    assert response["Location"] == reverse("console:ticket", args=[ticket.number])
    assert client.get(reverse("portal:new"))["Location"] == reverse("console:queue")


def test_it_sends_a_customer_home_to_the_portal(client_for, owner, operator):
    assert client_for(owner).get(reverse("home"))["Location"] == reverse("portal:list")
    assert client_for(operator).get(reverse("home"))["Location"] == reverse("console:queue")


def test_it_lets_a_second_customer_in_the_organisation_file_separately(client_for, org):
    other = customer(org, username="third")
    client_for(other).post(reverse("portal:new"), _request(org, subject="Third's request"))
    assert Ticket.objects.get(subject="Third's request").reporter == other
