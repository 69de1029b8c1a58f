"""Who sees which messenger links and messages: the portal page (each customer only their
own), the console page (operators triage; consultants and restricted agents see only
what their reach allows; customers are refused)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from aftercare.channels import services
from aftercare.channels.models import ChannelKind, ChannelMessage, ChatLink, LinkCode
from aftercare.tenancy.models import AgentRestriction

pytestmark = pytest.mark.django_db


def _link(user, chat: str, organisation=None) -> ChatLink:
    return ChatLink.objects.create(
        channel=ChannelKind.TELEGRAM,
        chat_id=chat,
        user=user,
        organisation=organisation,
        display_name=f"tg-{user.username}",
    )


def _held(chat: str, text: str, organisation=None, outcome="triage") -> ChannelMessage:
    return ChannelMessage.objects.create(
        channel=ChannelKind.TELEGRAM,
        chat_id=chat,
        platform_id="1",
        text=text,
        organisation=organisation,
        outcome=outcome,
    )


@pytest.fixture
def chats(owner, teammate, outsider, org, other_org):
    return {
        "owner": _link(owner, "100", org),
        "teammate": _link(teammate, "200", org),
        "outsider": _link(outsider, "300", other_org),
        "unknown": _held("900", "UNKNOWN-CHAT-TEXT"),
        "alpha": _held("100", "ALPHA-CHAT-TEXT", org, "ticket"),
        "beta": _held("300", "BETA-CHAT-TEXT", other_org, "ticket"),
    }


# -- the portal -----------------------------------------------------------------------


def test_the_portal_page_lists_only_ones_own_chats(chats, owner, outsider, client_for, bot):
    body = client_for(owner).get(reverse("channels_portal:messengers")).content.decode()
    assert "tg-owner" in body
    assert "tg-teammate" not in body and "tg-outsider" not in body


def test_a_customer_makes_a_code_and_sees_the_deep_link(owner, client_for, bot):
    response = client_for(owner).post(reverse("channels_portal:messengers"), {"action": "code"})
    assert response.status_code == 200
    code = response.context["code"]
    body = response.content.decode()
    assert f"/start {code}" in body
    assert f"https://t.me/aftercare_test_bot?start={code}" in body
    assert LinkCode.objects.get(user=owner).code_hash == services.hash_code(code)


def test_a_customer_cannot_make_a_code_for_another_organisation(owner, other_org, client_for, bot):
    response = client_for(owner).post(
        reverse("channels_portal:messengers"), {"action": "code", "organisation": other_org.pk}
    )
    assert response.status_code == 400
    assert not LinkCode.objects.exists()


def test_a_customer_unlinks_their_own_chat_and_nobody_elses(chats, owner, client_for, bot):
    client = client_for(owner)
    url = reverse("channels_portal:messengers")
    for other in ("teammate", "outsider"):
        response = client.post(url, {"action": "unlink", "link": chats[other].pk})
        assert response.status_code == 400
        assert ChatLink.objects.get(pk=chats[other].pk).active
    assert client.post(url, {"action": "unlink", "link": chats["owner"].pk}).status_code == 302
    assert not ChatLink.objects.get(pk=chats["owner"].pk).active


def test_staff_are_sent_from_the_portal_page_to_the_console(operator, client_for):
    response = client_for(operator).get(reverse("channels_portal:messengers"))
    assert response.status_code == 302 and response["Location"] == reverse("channels:inbox")


# -- the console ----------------------------------------------------------------------


def test_customers_are_refused_the_console_page(chats, owner, coordinator, client_for):
    for user in (owner, coordinator):
        client = client_for(user)
        assert client.get(reverse("channels:inbox")).status_code == 403
        response = client.post(
            reverse("channels:inbox"), {"action": "unlink", "link": chats["teammate"].pk}
        )
        assert response.status_code == 403
    assert ChatLink.objects.get(pk=chats["teammate"].pk).active


def test_an_operator_sees_triage_and_every_link(chats, operator, client_for):
    client = client_for(operator)
    body = client.get(reverse("channels:inbox")).content.decode()
    assert "UNKNOWN-CHAT-TEXT" in body and "ALPHA-CHAT-TEXT" not in body  # triage only
    body = client.get(reverse("channels:inbox"), {"show": "all"}).content.decode()
    for text in ("UNKNOWN-CHAT-TEXT", "ALPHA-CHAT-TEXT", "BETA-CHAT-TEXT"):
        assert text in body
    body = client.get(reverse("channels:inbox"), {"show": "links"}).content.decode()
    assert "tg-owner" in body and "tg-outsider" in body


def test_a_consultant_sees_links_and_linked_messages_but_no_triage(chats, consultant, client_for):
    client = client_for(consultant)
    body = client.get(reverse("channels:inbox")).content.decode()
    assert "tg-owner" in body  # their default tab: linked chats
    assert client.get(reverse("channels:inbox"), {"show": "triage"}).status_code == 403
    body = client.get(reverse("channels:inbox"), {"show": "all"}).content.decode()
    assert "ALPHA-CHAT-TEXT" in body and "UNKNOWN-CHAT-TEXT" not in body
    response = client.post(
        reverse("channels:inbox"),
        {"action": "discard", "message": chats["unknown"].pk, "reason": "x"},
    )
    assert response.status_code == 403
    assert ChannelMessage.objects.get(pk=chats["unknown"].pk).outcome == "triage"


@pytest.mark.parametrize("role", ["operator", "consultant", "manager"])
def test_a_restricted_agent_sees_only_their_customers(request, role, chats, org, client_for):
    agent = request.getfixturevalue(role)
    AgentRestriction.objects.create(user=agent, organisation=org)
    client = client_for(agent)
    body = client.get(reverse("channels:inbox"), {"show": "links"}).content.decode()
    assert "tg-owner" in body and "tg-outsider" not in body
    body = client.get(reverse("channels:inbox"), {"show": "all"}).content.decode()
    assert "ALPHA-CHAT-TEXT" in body
    assert "BETA-CHAT-TEXT" not in body and "UNKNOWN-CHAT-TEXT" not in body
    assert client.get(reverse("channels:inbox"), {"show": "triage"}).status_code == 403
    # Neither unlink B's chat nor act on held messages.
    response = client.post(
        reverse("channels:inbox"), {"action": "unlink", "link": chats["outsider"].pk}
    )
    assert response.status_code == 404
    assert ChatLink.objects.get(pk=chats["outsider"].pk).active
    response = client.post(
        reverse("channels:inbox"),
        {"action": "discard", "message": chats["unknown"].pk, "reason": "x"},
    )
    assert response.status_code == 403
    assert ChannelMessage.objects.get(pk=chats["unknown"].pk).outcome == "triage"


def test_an_operator_unlinks_a_chat(chats, operator, client_for):
    response = client_for(operator).post(
        reverse("channels:inbox") + "?show=links",
        {"action": "unlink", "link": chats["outsider"].pk},
    )
    assert response.status_code == 302
    assert not ChatLink.objects.get(pk=chats["outsider"].pk).active


def test_a_restricted_operator_cannot_link_a_held_chat_into_another_organisation(
    chats, operator, other_org, outsider, org, client_for
):
    AgentRestriction.objects.create(user=operator, organisation=org)
    response = client_for(operator).post(
        reverse("channels:inbox"),
        {
            "action": "link",
            "message": chats["unknown"].pk,
            "organisation": other_org.pk,
            "contact": outsider.username,
        },
    )
    assert response.status_code == 403
    assert not ChatLink.objects.filter(chat_id="900").exists()


def test_the_outgoing_tab_shows_deliveries_within_reach(
    owner, outsider, org, other_org, operator, client_for, bot
):
    from aftercare.channels.models import ChatDelivery
    from aftercare.desk.tests.factories import ticket_for

    rows = []
    for user, organisation in ((owner, org), (outsider, other_org)):
        ticket = ticket_for(user, organisation)
        rows.append(
            ChatDelivery.objects.create(
                link=_link(user, f"c{user.pk}", organisation),
                ticket=ticket,
                message=ticket.messages.get(),
                organisation=organisation,
                text="x",
                state="failed",
                last_error=f"ERR-{organisation.code}",
            )
        )
    body = client_for(operator).get(reverse("channels:inbox"), {"show": "outgoing"}).content
    assert b"ERR-alpha" in body and b"ERR-beta" in body
    AgentRestriction.objects.create(user=operator, organisation=org)
    body = client_for(operator).get(reverse("channels:inbox"), {"show": "outgoing"}).content
    assert b"ERR-alpha" in body and b"ERR-beta" not in body
    assert b"Beta Logistics" not in body


@pytest.mark.parametrize("show", ["triage", "all", "links", "outgoing"])
def test_the_console_lists_cost_the_same_for_many_rows(show, owner, org, operator, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(operator)
    url = reverse("channels:inbox")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url, {"show": show}).status_code == 200
        return len(ctx.captured_queries)

    from aftercare.channels.models import ChatDelivery
    from aftercare.desk.tests.factories import ticket_for

    ticket = ticket_for(owner, org)
    first = _link(owner, "1", org)
    ChatDelivery.objects.create(
        link=first, ticket=ticket, message=ticket.messages.get(), organisation=org, text="x"
    )
    _held("9", "one", outcome="triage")
    _held("1", "two", org, "ticket")
    count()  # the first page of a session reads a few things once
    few = count()
    for n in range(10):
        chat = _link(owner, f"x{n}", org)
        ChatDelivery.objects.create(
            link=chat, ticket=ticket, message=ticket.messages.get(), organisation=org, text="x"
        )
        _held(f"t{n}", "more", outcome="triage")
        _held(f"l{n}", "more", org, "reply")
    assert count() == few
