"""Telegram end to end against the fake Bot API: linking, intake, outbound, triage,
duplicates, the webhook and polling. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aftercare.accounts.roles import Role
from aftercare.channels import intake, outbound, services
from aftercare.channels.models import (
    ChannelKind,
    ChannelMessage,
    ChatDelivery,
    ChatLink,
    LinkCode,
)
from aftercare.channels.telegram import TelegramAdapter
from aftercare.desk import services as desk
from aftercare.desk.models import Attachment, Channel, Event, Message, Ticket
from aftercare.desk.tests.factories import PNG, ticket_for
from aftercare.tenancy.models import Membership
from aftercare.tenancy.tests.factories import OrganisationFactory

pytestmark = pytest.mark.django_db

CHAT = 4242
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
SECRET = "walk-secret_1"


def post(update: dict, *, secret: str = SECRET, header: str | None = None, client=None):
    client = client or Client()
    return client.post(
        reverse("channels_webhook:telegram", args=[secret]),
        data=update,
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET if header is None else header},
    )


def say(bot, text: str = "", chat: int = CHAT, **kwargs):
    update = bot.message_update(chat, text, **kwargs)
    response = post(update)
    assert response.status_code == 200, response.content
    return update


def link(bot, user, chat: int = CHAT, organisation=None) -> ChatLink:
    code = services.issue_code(user=user, channel=ChannelKind.TELEGRAM, organisation=organisation)
    say(bot, f"/start {code}", chat=chat)
    return ChatLink.objects.get(channel="telegram", chat_id=str(chat), active=True)


# -- linking --------------------------------------------------------------------------


def test_a_valid_code_links_the_chat_and_is_kept_only_hashed(bot, owner):
    code = services.issue_code(user=owner, channel=ChannelKind.TELEGRAM)
    assert len(code) == 8
    row = LinkCode.objects.get(user=owner)
    assert code not in row.code_hash and row.code_hash == services.hash_code(code)
    say(bot, f"/start {code}")
    chat = ChatLink.objects.get(chat_id=str(CHAT), active=True)
    assert chat.user == owner
    assert "linked" in bot.texts_to(CHAT)[-1]
    # The code is never kept in the ledger, not even as the message text.
    assert not ChannelMessage.objects.filter(text__contains=code).exists()


def test_a_code_works_once(bot, owner):
    code = services.issue_code(user=owner, channel=ChannelKind.TELEGRAM)
    say(bot, f"/start {code}")
    say(bot, f"/start {code}", chat=777)
    assert not ChatLink.objects.filter(chat_id="777").exists()
    assert "not valid" in bot.texts_to(777)[-1]


def test_an_expired_code_is_refused(bot, owner):
    code = services.issue_code(user=owner, channel=ChannelKind.TELEGRAM)
    LinkCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    say(bot, f"/start {code}")
    assert not ChatLink.objects.exists()
    assert "expired" in bot.texts_to(CHAT)[-1]


def test_a_wrong_code_is_refused(bot, owner):
    services.issue_code(user=owner, channel=ChannelKind.TELEGRAM)
    say(bot, "/start WRONG123")
    assert not ChatLink.objects.exists()
    assert "not valid" in bot.texts_to(CHAT)[-1]
    assert not Ticket.objects.exists()


def test_a_new_code_cancels_the_previous_one(bot, owner):
    first = services.issue_code(user=owner, channel=ChannelKind.TELEGRAM)
    services.issue_code(user=owner, channel=ChannelKind.TELEGRAM)
    say(bot, f"/start {first}")
    assert not ChatLink.objects.exists()


def test_staff_cannot_make_a_code(operator):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.issue_code(user=operator, channel=ChannelKind.TELEGRAM)


# -- requests from the chat -----------------------------------------------------------


def test_a_message_opens_a_request_for_the_linked_contact(bot, owner, org):
    link(bot, owner)
    say(bot, "Invoices do not post\nSince this morning every invoice fails.")
    ticket = Ticket.objects.get()
    assert (ticket.organisation, ticket.reporter, ticket.channel) == (
        org,
        owner,
        Channel.MESSENGER,
    )
    assert ticket.subject == "Invoices do not post"
    assert ticket.created_by.username == services.SERVICE_USERNAME
    message = ticket.messages.get()
    assert (message.author, message.channel) == (owner, Channel.MESSENGER)
    assert Event.objects.filter(ticket=ticket, action="desk.ticket.created").exists()
    assert ticket.number in bot.texts_to(CHAT)[-1]
    assert ChannelMessage.objects.filter(ticket=ticket, outcome="ticket").count() == 1


def test_the_next_message_is_a_reply_to_the_current_request(bot, owner):
    link(bot, owner)
    say(bot, "Printer offline")
    say(bot, "It is the one on floor 2")
    ticket = Ticket.objects.get()
    reply = ticket.messages.order_by("pk").last()
    assert (reply.body, reply.author, reply.channel) == (
        "It is the one on floor 2",
        owner,
        Channel.MESSENGER,
    )
    assert Event.objects.filter(ticket=ticket, action="desk.reply.added").count() == 1


def test_new_list_and_request_steer_the_chat(bot, owner):
    link(bot, owner)
    say(bot, "First problem")
    say(bot, "/new")
    say(bot, "Second problem")
    first, second = Ticket.objects.order_by("pk")
    say(bot, "/list")
    assert first.number in bot.texts_to(CHAT)[-1] and second.number in bot.texts_to(CHAT)[-1]
    say(bot, f"/request {first.number}")
    say(bot, "More about the first")
    assert first.messages.count() == 2 and second.messages.count() == 1
    say(bot, "/new Third problem at once")
    assert Ticket.objects.filter(subject="Third problem at once").exists()


def test_a_request_of_another_organisation_is_refused(bot, owner, outsider, other_org):
    link(bot, owner)
    say(bot, "My own problem")
    mine = Ticket.objects.get()
    theirs = ticket_for(outsider, other_org, subject="Beta secret")
    say(bot, f"/request {theirs.number}")
    assert "no request" in bot.texts_to(CHAT)[-1]
    assert "Beta secret" not in "".join(bot.texts_to(CHAT))
    # Answering a (forged) message that names their number is refused too.
    say(
        bot,
        "Let me in",
        reply_to={
            "message_id": 1,
            "date": 0,
            "chat": {"id": CHAT, "type": "private"},
            "text": f"Request {theirs.number}",
        },
    )
    assert theirs.messages.count() == 1
    assert ChannelMessage.objects.filter(outcome="refused").count() == 2
    say(bot, "Still mine")
    assert mine.messages.count() == 2 and theirs.messages.count() == 1


def test_answering_a_bot_message_goes_to_its_request(bot, owner):
    link(bot, owner)
    say(bot, "First")
    first = Ticket.objects.get()
    say(bot, "/new Second")
    say(
        bot,
        "For the first",
        reply_to={
            "message_id": 1,
            "date": 0,
            "chat": {"id": CHAT, "type": "private"},
            "text": f"Request {first.number} registered",
        },
    )
    assert first.messages.order_by("pk").last().body == "For the first"


def test_photos_and_documents_become_attachments(bot, owner):
    link(bot, owner)
    say(bot, caption="Screen of the error", photo=JPEG)
    ticket = Ticket.objects.get()
    assert ticket.subject == "Screen of the error"
    say(bot, document=("report.pdf", "application/pdf", b"%PDF-1.4 report"))
    names = sorted(Attachment.objects.filter(ticket=ticket).values_list("name", flat=True))
    assert names[0] == "photo-" + names[0][6:] and names[0].endswith(".jpg")
    assert names[1] == "report.pdf"
    pdf = Attachment.objects.get(name="report.pdf")
    with pdf.file.open("rb") as fh:
        assert fh.read() == b"%PDF-1.4 report"
    assert not pdf.is_internal
    assert [c[0] for c in bot.calls].count("getFile") == 2


def test_a_file_the_desk_refuses_is_told_and_noted(bot, owner):
    link(bot, owner)
    say(bot, "Here is the tool", document=("tool.exe", "application/x-msdownload", b"MZ\x90"))
    ticket = Ticket.objects.get()
    assert not Attachment.objects.exists()
    assert Event.objects.filter(ticket=ticket, action="channels.attachments_refused").exists()
    assert "tool.exe" in bot.texts_to(CHAT)[-1]


def test_several_organisations_are_never_guessed(
    bot, owner, org, django_capture_on_commit_callbacks
):
    second = OrganisationFactory(name="Gamma Retail", code="gamma")
    Membership.objects.create(user=owner, organisation=second, role=Role.CUSTOMER)
    link(bot, owner)
    say(bot, "Which org am I")
    assert not Ticket.objects.exists()
    assert ChannelMessage.objects.get(text="Which org am I").outcome == "waiting"
    assert "Gamma Retail" in bot.texts_to(CHAT)[-1]
    with django_capture_on_commit_callbacks(execute=True):
        say(bot, "/org 1")  # sorted by name: Alpha Foods, Gamma Retail
    ticket = Ticket.objects.get()
    assert ticket.organisation == org and ticket.description == "Which org am I"
    say(bot, "/new")
    say(bot, "Next one")
    assert Ticket.objects.order_by("pk").last().organisation == org


def test_a_chosen_organisation_on_the_code_is_used(bot, owner):
    second = OrganisationFactory(name="Gamma Retail", code="gamma")
    Membership.objects.create(user=owner, organisation=second, role=Role.CUSTOMER)
    link(bot, owner, organisation=second)
    say(bot, "For gamma")
    assert Ticket.objects.get().organisation == second


# -- outbound -------------------------------------------------------------------------


def test_an_agents_public_reply_goes_to_the_chat_and_a_note_does_not(
    bot, owner, operator, django_capture_on_commit_callbacks
):
    link(bot, owner)
    say(bot, "Help please")
    ticket = Ticket.objects.get()
    before = len(bot.sent)
    with django_capture_on_commit_callbacks(execute=True):
        desk.reply(ticket=ticket, actor=operator, body="INTERNAL: licence expired", internal=True)
    assert len(bot.sent) == before
    with django_capture_on_commit_callbacks(execute=True):
        desk.reply(
            ticket=ticket,
            actor=operator,
            body="Please restart the service.",
            attachments=[SimpleUploadedFile("steps.png", PNG)],
        )
    texts = bot.texts_to(CHAT)
    assert "Please restart the service." in texts[-1] and ticket.number in texts[-1]
    assert not any("licence" in t for t in texts)
    assert bot.sent[-1]["document"] == "steps.png" and bot.sent[-1]["data"] == PNG
    delivery = ChatDelivery.objects.get()
    assert delivery.state == "sent" and delivery.platform_id
    # The customer's own replies are not echoed back.
    say(bot, "Restarted")
    assert ChatDelivery.objects.count() == 1


def test_an_outage_does_not_fail_the_reply_and_is_retried(
    bot, owner, operator, django_capture_on_commit_callbacks
):
    link(bot, owner)
    say(bot, "Help please")
    ticket = Ticket.objects.get()
    bot.fail_sends = True
    with django_capture_on_commit_callbacks(execute=True):
        message = desk.reply(ticket=ticket, actor=operator, body="We are on it.")
    assert Message.objects.filter(pk=message.pk).exists()
    delivery = ChatDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == (
        "retrying",
        1,
    ) and "Bad Gateway" in delivery.last_error
    bot.fail_sends = False
    assert outbound.send_due() == {"sent": 0, "retrying": 0, "failed": 0}  # backing off
    assert outbound.send_due(now=timezone.now() + timedelta(minutes=5))["sent"] == 1
    assert ChatDelivery.objects.get().state == "sent"
    assert "We are on it." in bot.texts_to(CHAT)[-1]


def test_an_unlinked_chat_gets_no_more_replies(
    bot, owner, operator, django_capture_on_commit_callbacks
):
    chat = link(bot, owner)
    say(bot, "Help please")
    services.unlink(link=chat, actor=owner)
    with django_capture_on_commit_callbacks(execute=True):
        desk.reply(ticket=Ticket.objects.get(), actor=operator, body="Answer")
    assert not ChatDelivery.objects.exists()


# -- unknown chats and triage ---------------------------------------------------------


def test_an_unknown_chat_gets_instructions_and_waits_in_triage(bot, org):
    say(bot, "Hello, our server is down", chat=999, photo=JPEG)
    row = ChannelMessage.objects.get(chat_id="999")
    assert (row.outcome, row.organisation, row.ticket) == ("triage", None, None)
    assert "/start" in bot.texts_to(999)[-1]
    assert not Ticket.objects.exists() and not Attachment.objects.exists()
    assert "getFile" not in [c[0] for c in bot.calls]  # nothing fetched for a stranger


def test_an_operator_links_a_held_chat_and_its_messages_become_a_request(
    bot, org, owner, operator, client_for
):
    say(bot, "Our server is down", chat=999, photo=JPEG)
    row = ChannelMessage.objects.get(chat_id="999")
    response = client_for(operator).post(
        reverse("channels:inbox"),
        {"action": "link", "message": row.pk, "organisation": org.pk, "contact": owner.username},
    )
    assert response.status_code == 302, response.content
    ticket = Ticket.objects.get()
    assert (ticket.reporter, ticket.organisation, ticket.channel) == (owner, org, "messenger")
    assert ticket.attachments.count() == 1
    row.refresh_from_db()
    assert (row.outcome, row.ticket, row.resolved_by) == ("ticket", ticket, operator)
    assert ChatLink.objects.get(chat_id="999").linked_by == operator
    assert ticket.number in bot.texts_to(999)[-1]


def test_triage_never_links_to_another_organisations_contact(
    bot, org, outsider, operator, client_for
):
    say(bot, "Hi", chat=999)
    row = ChannelMessage.objects.get()
    response = client_for(operator).post(
        reverse("channels:inbox"),
        {"action": "link", "message": row.pk, "organisation": org.pk, "contact": outsider.username},
    )
    assert response.status_code == 400
    assert not ChatLink.objects.exists() and not Ticket.objects.exists()


def test_an_operator_discards_a_held_message_with_a_reason(bot, operator, client_for):
    say(bot, "spam spam", chat=999)
    row = ChannelMessage.objects.get()
    client = client_for(operator)
    assert (
        client.post(reverse("channels:inbox"), {"action": "discard", "message": row.pk}).status_code
        == 400
    )
    client.post(
        reverse("channels:inbox"), {"action": "discard", "message": row.pk, "reason": "spam"}
    )
    row.refresh_from_db()
    assert (row.outcome, row.resolved_by) == ("discarded", operator)


# -- exactly once, the webhook, polling -----------------------------------------------


def test_the_same_update_twice_is_processed_once(bot, owner):
    link(bot, owner)
    update = bot.message_update(CHAT, "Only once please")
    assert post(update).status_code == 200
    assert post(update).status_code == 200
    adapter = TelegramAdapter()
    assert intake.handle(adapter, adapter.parse(update)) is None
    assert Ticket.objects.count() == 1
    assert (
        ChannelMessage.objects.filter(platform_id=str(update["message"]["message_id"])).count() == 1
    )
    assert Message.objects.count() == 1


def test_the_webhook_checks_its_secret(bot, owner):
    update = bot.message_update(CHAT, "x")
    assert post(update, header="wrong").status_code == 403
    assert post(update, header="").status_code == 403
    assert post(update, secret="wrong-secret").status_code == 403
    assert not ChannelMessage.objects.exists()
    client = Client()
    url = reverse("channels_webhook:telegram", args=[SECRET])
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    assert (
        client.post(
            url, data="{not json", content_type="application/json", headers=headers
        ).status_code
        == 400
    )
    big = '{"x": "' + "a" * 300_000 + '"}'
    assert (
        client.post(url, data=big, content_type="application/json", headers=headers).status_code
        == 413
    )
    assert client.get(url, headers=headers).status_code == 405
    assert post({"update_id": 5, "edited_message": {}}).status_code == 200  # ignored
    assert not ChannelMessage.objects.exists()


def test_the_channel_is_off_without_a_token(settings, owner, client_for):
    settings.AFTERCARE_TELEGRAM_TOKEN = ""
    settings.AFTERCARE_TELEGRAM_WEBHOOK_SECRET = SECRET
    assert post({"update_id": 1}).status_code == 404
    page = client_for(owner).get(reverse("channels_portal:messengers"))
    assert b"not set up" in page.content and b"Make a code" not in page.content
    with pytest.raises(CommandError):
        call_command("telegram_poll", "--once")


def test_polling_consumes_the_updates(bot, owner):
    code = services.issue_code(user=owner, channel=ChannelKind.TELEGRAM)
    bot.queue(bot.message_update(CHAT, f"/start {code}"))
    bot.queue(bot.message_update(CHAT, "Polled problem"))
    out = io.StringIO()
    call_command("telegram_poll", "--once", "--timeout", "0", stdout=out)
    assert "2 message(s)" in out.getvalue()
    assert Ticket.objects.get().subject == "Polled problem"
    assert bot.updates == []  # confirmed to Telegram
    call_command("telegram_poll", "--once", "--timeout", "0", stdout=out)
    assert Ticket.objects.count() == 1


def test_the_webhook_command_registers_with_the_secret(bot):
    out = io.StringIO()
    call_command("telegram_webhook", "--set", "https://support.example.test", stdout=out)
    assert bot.webhook["url"] == f"https://support.example.test/channels/telegram/webhook/{SECRET}/"
    assert bot.webhook["secret_token"] == SECRET
    assert SECRET not in out.getvalue()
    with pytest.raises(CommandError):
        call_command("telegram_webhook", "--set", "http://insecure.example.test")
    call_command("telegram_webhook", "--delete", stdout=out)
    assert bot.webhook is None


# -- maintenance and failures ----------------------------------------------------------


@pytest.fixture
def maintenance_on(db):
    from aftercare.ops import maintenance

    maintenance.switch(True, message="Upgrade", by="tests")
    yield
    maintenance.forget()


def test_maintenance_refuses_the_webhook_and_the_commands_and_stores_nothing(
    bot, owner, maintenance_on
):
    from aftercare.channels.tasks import deliver

    update = bot.message_update(CHAT, "During maintenance")
    assert post(update).status_code == 503  # Telegram delivers it again later
    assert not ChannelMessage.objects.exists()
    bot.queue(update)
    for command in (["telegram_poll", "--once"], ["channels_outbox"]):
        with pytest.raises(CommandError):
            call_command(*command)
    assert bot.updates == [update] and not ChannelMessage.objects.exists()
    assert deliver(1)() == ""  # the job skips quietly


def test_a_bug_in_routing_keeps_the_message_as_failed(bot, owner, monkeypatch):
    link(bot, owner)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(intake, "_conversation", broken)
    update = say(bot, "Lost?")
    row = ChannelMessage.objects.get(platform_id=str(update["message"]["message_id"]))
    assert (row.outcome, row.text) == ("failed", "Lost?") and "boom" in row.detail
    assert not Ticket.objects.exists()


def test_the_outbox_command_sends_what_is_due(
    bot, owner, operator, django_capture_on_commit_callbacks
):
    link(bot, owner)
    say(bot, "Help")
    bot.fail_sends = True
    with django_capture_on_commit_callbacks(execute=True):
        desk.reply(ticket=Ticket.objects.get(), actor=operator, body="Answer")
    bot.fail_sends = False
    ChatDelivery.objects.update(attempted_at=timezone.now() - timedelta(hours=1))
    out = io.StringIO()
    call_command("channels_outbox", stdout=out)
    assert "sent 1" in out.getvalue()
    assert ChatDelivery.objects.get().state == "sent"


def test_linking_and_unlinking_are_security_events(bot, owner, teammate):
    from aftercare.accounts.models import SecurityEvent

    link(bot, owner)
    link(bot, teammate)  # the chat moves to the teammate's account
    say(bot, "/unlink")
    rows = list(SecurityEvent.objects.order_by("pk").values_list("action", "subject", "actor"))
    assert rows == [
        ("channels.chat.linked", owner.pk, owner.pk),
        ("channels.chat.unlinked", owner.pk, teammate.pk),
        ("channels.chat.linked", teammate.pk, teammate.pk),
        ("channels.chat.unlinked", teammate.pk, teammate.pk),
    ]
    assert not ChatLink.objects.filter(active=True).exists()


def test_a_stranger_flooding_the_bot_stops_reaching_triage(bot, monkeypatch):
    monkeypatch.setattr(intake, "UNKNOWN_CHAT_DAILY_CAP", 3)
    for n in range(5):
        say(bot, f"spam {n}", chat=666)
    outcomes = list(ChannelMessage.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == ["triage"] * 3 + ["discarded"] * 2
    assert len(bot.texts_to(666)) == 3
