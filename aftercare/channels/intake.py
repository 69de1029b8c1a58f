"""One entry point for every messenger: ``handle(adapter, message)``.

A message from a linked chat becomes a new request or a reply through ``desk.services``
(the same rules, events and notifications as every channel); a message from a chat nobody
linked is held for triage and answered with how to link; commands (``/start CODE``,
``/new``, ``/list``, ``/request NUMBER``, ``/org N``, ``/unlink``) steer the chat.

Every message gets one ``ChannelMessage`` row, inserted first in the transaction that
routes it: the unique key (channel, chat, platform id) makes a redelivered update a no-op.
Files are fetched before the transaction (no lock held during network calls); answers to
the chat are sent after the commit and never undo what was saved.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from aftercare.accounts.roles import PermSet
from aftercare.channels import services as channel_services
from aftercare.channels.base import Adapter, ChannelError, InboundAttachment, InboundMessage
from aftercare.channels.models import ChannelMessage, ChatLink, ChatTicket
from aftercare.desk import services
from aftercare.desk.attachments import validate_upload
from aftercare.desk.models import CLOSED_STATUSES, OPEN_STATUSES, Category, Channel, Ticket
from aftercare.desk.querysets import visible_tickets
from aftercare.ops.maintenance import MaintenanceError, check_writable
from aftercare.tenancy.models import Organisation
from aftercare.tenancy.scoping import system_scope

log = logging.getLogger(__name__)
Outcome = ChannelMessage.Outcome
# Messages a day from one unlinked chat that reach triage (and get the instructions).
UNKNOWN_CHAT_DAILY_CAP = 20
COMMAND = re.compile(r"^/([a-z_]+)(?:@\w+)?(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)


def _number_re() -> re.Pattern:
    prefix = re.escape(settings.AFTERCARE_TICKET_PREFIX)
    return re.compile(rf"(?<![\w-])({prefix}-\d{{4}}-\d{{6}})(?![\w-])", re.IGNORECASE)


class _Answers:
    """What to say to the chat once the transaction is committed."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def say(self, text: str) -> None:
        self.texts.append(str(text))


# -- the entry point --------------------------------------------------------------------


def handle(adapter: Adapter, message: InboundMessage) -> ChannelMessage | None:
    """Process one message exactly once; ``None`` when it was processed before.

    Raises only when the database (or maintenance mode) stops everything: the webhook then
    answers an error so the messenger delivers the update again later.
    """
    check_writable()
    with system_scope():
        key = {
            "channel": message.channel,
            "chat_id": message.chat_id,
            "platform_id": message.platform_id,
        }
        if ChannelMessage.objects.filter(**key).exists():
            return None
        link = (
            ChatLink.objects.filter(channel=message.channel, chat_id=message.chat_id, active=True)
            .select_related("user")
            .first()
        )
        answers = _Answers()
        files = _fetch(adapter, message) if link is not None and not _command(message) else None
        try:
            with transaction.atomic():
                row = ChannelMessage.objects.create(
                    **key,
                    update_id=message.update_id,
                    sender_display=message.sender_display[:255],
                    text=message.text,
                    payload=_payload(message),
                    attachment_names=[a.name for a in message.attachments],
                    reply_to=message.reply_to[:64],
                    link=link,
                    organisation=link.organisation if link else None,
                )
                _route(adapter, row, message, link, files, answers)
                row.save()
        except IntegrityError:
            if ChannelMessage.objects.filter(**key).exists():
                return None  # a racing delivery of the same update stored it first
            raise
        except (OperationalError, InterfaceError, MaintenanceError):
            raise  # the database is away: the messenger delivers the update again later
        except Exception as exc:  # a bug must not lose the message: keep it as failed
            log.exception("messenger intake failed for %s", key)
            row = ChannelMessage.objects.create(
                **key,
                update_id=message.update_id,
                sender_display=message.sender_display[:255],
                text=message.text,
                payload=_payload(message),
                attachment_names=[a.name for a in message.attachments],
                reply_to=message.reply_to[:64],
                link=link,
                organisation=link.organisation if link else None,
                outcome=Outcome.FAILED,
                detail=f"{type(exc).__name__}: {exc}"[:2000],
            )
            return row
        _tell(adapter, message.chat_id, answers, link.user if link else None)
        return row


def _payload(message: InboundMessage) -> dict:
    return {
        **message.raw,
        "attachments": [
            {"name": a.name, "content_type": a.content_type, "ref": a.ref, "size": a.size}
            for a in message.attachments
        ],
        "reply_to_text": message.reply_to_text[:4096],
    }


def _message_from(row: ChannelMessage) -> InboundMessage:
    payload = row.payload or {}
    return InboundMessage(
        channel=row.channel,
        chat_id=row.chat_id,
        platform_id=row.platform_id,
        sender_display=row.sender_display,
        text=row.text,
        attachments=tuple(
            InboundAttachment(
                name=a.get("name", "file"),
                content_type=a.get("content_type", ""),
                ref=a.get("ref", ""),
                size=a.get("size"),
            )
            for a in payload.get("attachments", [])
        ),
        reply_to=row.reply_to,
        reply_to_text=payload.get("reply_to_text", ""),
        update_id=row.update_id,
    )


def _tell(adapter: Adapter, chat_id: str, answers: _Answers, user) -> None:
    for text in answers.texts:
        try:
            adapter.send(chat_id, text)
        except ChannelError as exc:
            # The message itself is saved; only our answer is lost (logged).
            log.warning("could not answer %s chat %s: %s", adapter.identifier, chat_id, exc)


def _command(message: InboundMessage) -> tuple[str, str] | None:
    found = COMMAND.match(message.text.strip())
    if not found:
        return None
    return found.group(1).lower(), (found.group(2) or "").strip()


# -- files --------------------------------------------------------------------------------


class _Files:
    def __init__(self) -> None:
        self.kept: list[SimpleUploadedFile] = []
        self.refused: list[str] = []


def _fetch(adapter: Adapter, message: InboundMessage) -> _Files:
    """Download and check the files (the desk's upload rules); refusals are listed."""
    files = _Files()
    for att in message.attachments:
        if len(files.kept) >= settings.AFTERCARE_MAX_ATTACHMENTS_PER_MESSAGE:
            files.refused.append(_("“%(name)s”: too many attachments") % {"name": att.name})
            continue
        if att.size and att.size > settings.AFTERCARE_MAX_ATTACHMENT_BYTES:
            files.refused.append(_("“%(name)s” is larger than the limit.") % {"name": att.name})
            continue
        try:
            data = att.data if att.data is not None else adapter.download(att)
        except ChannelError as exc:
            log.warning("could not fetch %s: %s", att.name, exc)
            files.refused.append(
                _("“%(name)s” could not be fetched from the messenger.") % {"name": att.name}
            )
            continue
        upload = SimpleUploadedFile(att.name, data, att.content_type or None)
        try:
            validate_upload(upload)
        except ValidationError as exc:
            files.refused.append(" ".join(exc.messages))
            continue
        files.kept.append(upload)
    return files


# -- routing ------------------------------------------------------------------------------


def _route(adapter, row, message, link, files, answers) -> None:
    command = _command(message)
    if link is None:
        return _unknown_chat(row, message, command, answers)
    user = link.user
    with translation.override(user.language or settings.LANGUAGE_CODE):
        permset = PermSet(user)
        if not permset.is_authenticated or permset.is_agent or not permset.memberships:
            # The contact left (or lost sign-in): the chat speaks for nobody any more.
            row.link = None
            ChatLink.objects.filter(pk=link.pk).update(active=False, unlinked_at=timezone.now())
            channel_services.audit("channels.chat.unlinked", link, None)
            return _unknown_chat(row, message, command, answers)
        if command is not None:
            return _run_command(adapter, row, link, permset, command, answers)
        return _conversation(row, message, link, permset, files or _Files(), answers)


def _instructions() -> str:
    return _(
        "Hello! This is the support desk's bot. To write to us here, link this chat to your "
        "account: in the customer portal open “Messengers”, make a code, then send "
        "/start CODE here. Until then we cannot read your messages as yours; a colleague "
        "will look at them."
    )


def _help() -> str:
    return _(
        "Write your question here and we open a request, or add to the one you are "
        "discussing. Commands: /new — start a new request; /list — your open requests; "
        "/request NUMBER — continue that request; /org — choose the organisation; "
        "/unlink — stop using this chat."
    )


def _unknown_chat(row, message, command, answers) -> None:
    if command is not None and command[0] == "start" and command[1]:
        try:
            link = channel_services.redeem_code(
                channel=row.channel,
                chat_id=row.chat_id,
                code=command[1].split()[0],
                display_name=row.sender_display,
            )
        except channel_services.LinkError as exc:
            row.outcome = Outcome.COMMAND
            row.detail = str(exc.message)
            row.text = "/start ***"  # never keep a code, even a wrong one
            answers.say(exc.message)
            return None
        row.link, row.organisation, row.outcome, row.text = (
            link,
            link.organisation,
            Outcome.COMMAND,
            "/start ***",
        )
        with translation.override(link.user.language or settings.LANGUAGE_CODE):
            answers.say(
                _("This chat is now linked to %(name)s. %(help)s")
                % {"name": link.user.display_name, "help": _help()}
            )
        return None
    since = timezone.now() - timedelta(days=1)
    recent = ChannelMessage.objects.filter(
        channel=row.channel, chat_id=row.chat_id, link=None, received_at__gte=since
    ).exclude(pk=row.pk)
    if recent.count() >= UNKNOWN_CHAT_DAILY_CAP:
        # A stranger flooding the bot: kept for the record, not put in front of anyone,
        # not answered (no ping-pong).
        row.outcome = Outcome.DISCARDED
        row.detail = _("Too many messages from an unlinked chat today.")
        return None
    answers.say(_instructions())
    if command is not None and command[0] in ("start", "help"):
        row.outcome = Outcome.COMMAND
        return None
    row.outcome = Outcome.TRIAGE
    row.detail = _("The chat is not linked to a contact.")
    return None


def _run_command(adapter, row, link, permset, command, answers) -> None:
    name, arg = command
    row.outcome = Outcome.COMMAND
    if name == "start" and arg:
        row.text = "/start ***"
        return _unknown_chat(row, _message_from(row), command, answers)
    if name == "new":
        ChatLink.objects.filter(pk=link.pk).update(current_ticket=None)
        link.current_ticket = None
        if arg:  # "/new the printer is broken": the text opens the request at once
            row.text = arg
            return _conversation(
                row, _message_from(row), link, permset, _Files(), answers, new=True
            )
        answers.say(_("Your next message opens a new request."))
        return None
    if name == "list":
        rows = list(
            visible_tickets(permset).filter(status__in=OPEN_STATUSES).order_by("-updated_at")[:10]
        )
        if not rows:
            answers.say(_("You have no open requests."))
        else:
            lines = [f"{t.number} — {t.subject} ({t.get_status_display()})" for t in rows]
            answers.say(
                _("Your open requests:")
                + "\n"
                + "\n".join(lines)
                + "\n\n"
                + _("Send /request NUMBER to continue one of them.")
            )
        return None
    if name == "request":
        ticket = _writable(permset, arg)
        if ticket is None:
            row.outcome = Outcome.REFUSED
            row.detail = _("Asked for %(number)s, which the contact may not write to.") % {
                "number": arg[:40]
            }
            answers.say(
                _("There is no request %(number)s that you may write to.") % {"number": arg[:40]}
            )
            return None
        _bind(link, ticket)
        answers.say(
            _("You are now writing to %(number)s: %(subject)s")
            % {"number": ticket.number, "subject": ticket.subject}
        )
        return None
    if name == "org":
        return _choose_organisation(adapter, row, link, permset, arg, answers)
    if name == "unlink":
        ChatLink.objects.filter(pk=link.pk).update(active=False, unlinked_at=timezone.now())
        channel_services.audit("channels.chat.unlinked", link, link.user)
        answers.say(_("This chat is no longer linked to your account."))
        return None
    answers.say(_help())
    return None


def _writable(permset: PermSet, number: str) -> Ticket | None:
    """The request named ``number`` if this customer may write to it (else None: a request
    of another organisation is answered like one that does not exist)."""
    found = _number_re().search(number or "")
    if not found:
        return None
    ticket = Ticket.objects.filter(number=found.group(1).upper()).first()
    if ticket is None or not permset.may_view_ticket(ticket) or not permset.ticket_roles(ticket):
        return None
    return ticket


def _bind(link: ChatLink, ticket: Ticket) -> None:
    ChatTicket.objects.get_or_create(link=link, ticket=ticket)
    ChatLink.objects.filter(pk=link.pk).update(current_ticket=ticket)
    link.current_ticket = ticket


def _organisations(permset: PermSet) -> list[Organisation]:
    return list(
        Organisation.objects.filter(pk__in=list(permset.memberships), is_active=True).order_by(
            "name"
        )
    )


def _choose_organisation(adapter, row, link, permset, arg, answers) -> None:
    choices = _organisations(permset)
    listing = "\n".join(f"{i}. {o.name}" for i, o in enumerate(choices, 1))
    if not arg.isdigit() or not 1 <= int(arg) <= len(choices):
        answers.say(
            _("Which organisation do you write for? Send /org and its number:") + "\n" + listing
        )
        return None
    chosen = choices[int(arg) - 1]
    ChatLink.objects.filter(pk=link.pk).update(organisation=chosen, current_ticket=None)
    link.organisation, link.current_ticket = chosen, None
    answers.say(_("New requests from this chat go to %(name)s.") % {"name": chosen.name})
    # Messages that waited for this choice are processed after this transaction.
    transaction.on_commit(lambda: release_held(adapter, link.pk, Outcome.WAITING))
    return None


def _organisation_for(link: ChatLink, permset: PermSet) -> Organisation | None:
    """The chat's chosen organisation, or the only one the contact belongs to. Never one
    of several by guesswork."""
    if link.organisation_id and link.organisation_id in permset.memberships:
        return link.organisation
    choices = _organisations(permset)
    return choices[0] if len(choices) == 1 else None


def _conversation(row, message, link, permset, files, answers, new: bool = False) -> None:
    user = link.user
    target = None
    if message.reply_to_text and not new:
        named = _number_re().search(message.reply_to_text)
        if named:
            target = _writable(permset, named.group(1))
            if target is None:
                row.outcome = Outcome.REFUSED
                row.detail = _(
                    "The message answers %(number)s, which the contact may not write to."
                ) % {"number": named.group(1)}
                answers.say(
                    _("There is no request %(number)s that you may write to.")
                    % {"number": named.group(1)}
                )
                return None
    if target is None and not new and link.current_ticket_id:
        current = Ticket.objects.filter(pk=link.current_ticket_id).first()
        if current is not None and current.status not in CLOSED_STATUSES:
            target = _writable(permset, current.number)
    text = message.text.strip() or (
        _("(no text; see the attachments)") if message.attachments else _("(empty message)")
    )
    if target is not None:
        try:
            with transaction.atomic():
                reply = services.reply(
                    ticket=target,
                    actor=user,
                    body=text,
                    channel=Channel.MESSENGER,
                    attachments=files.kept,
                )
        except services.AttachmentStorageError:
            raise
        except (ValidationError, PermissionDenied) as exc:
            row.outcome = Outcome.REFUSED
            row.detail = " ".join(getattr(exc, "messages", [str(exc)]))
            answers.say(row.detail)
            return None
        _bind(link, target)
        row.ticket, row.organisation_id, row.outcome = target, target.organisation_id, Outcome.REPLY
        row.detail = f"message {reply.pk}"
        answers.say(_("Added to %(number)s.") % {"number": target.number})
        _refused(target, files, answers)
        return None
    organisation = _organisation_for(link, permset)
    if organisation is None:
        row.outcome = Outcome.WAITING
        choices = _organisations(permset)
        listing = "\n".join(f"{i}. {o.name}" for i, o in enumerate(choices, 1))
        answers.say(
            _(
                "You belong to several organisations. Which one is this for? Send /org and its number:"
            )
            + "\n"
            + listing
        )
        return None
    first_line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    subject = first_line[:120] or _("Message from %(channel)s") % {
        "channel": row.get_channel_display()
    }
    try:
        with transaction.atomic():
            ticket = services.open_ticket(
                actor=channel_services.service_actor(),
                reporter=user,
                organisation=organisation,
                subject=subject,
                description=text,
                category=Category.INCIDENT,
                channel=Channel.MESSENGER,
                attachments=files.kept,
            )
    except services.AttachmentStorageError:
        raise
    except (ValidationError, PermissionDenied) as exc:
        row.outcome = Outcome.REFUSED
        row.detail = " ".join(getattr(exc, "messages", [str(exc)]))
        answers.say(row.detail)
        return None
    _bind(link, ticket)
    row.ticket, row.organisation, row.outcome = ticket, organisation, Outcome.TICKET
    answers.say(
        _(
            "Request %(number)s registered: %(subject)s\nWrite here to add to it, "
            "/new to start another one."
        )
        % {"number": ticket.number, "subject": ticket.subject}
    )
    _refused(ticket, files, answers)
    return None


def _refused(ticket: Ticket, files: _Files, answers: _Answers) -> None:
    if not files.refused:
        return
    note = (
        _("Files in the messenger message that were not accepted:")
        + "\n"
        + "\n".join(files.refused)
    )
    services.system_note(ticket=ticket, action="channels.attachments_refused", note=note)
    answers.say(note)


# -- held messages ------------------------------------------------------------------------


def release_held(adapter: Adapter, link_id: int, outcome: str) -> int:
    """Process the messages of a chat that waited (in triage, or for the organisation)
    as messages of its now-linked contact, oldest first. The number processed."""
    done = 0
    with system_scope():
        link = ChatLink.objects.filter(pk=link_id, active=True).select_related("user").first()
        if link is None:
            return 0
        waiting = ChannelMessage.objects.filter(
            channel=link.channel, chat_id=link.chat_id, outcome=outcome
        ).order_by("received_at", "pk")
        for pk in list(waiting.values_list("pk", flat=True)):
            row = ChannelMessage.objects.get(pk=pk)
            message = _message_from(row)
            files = _fetch(adapter, message)
            answers = _Answers()
            with transaction.atomic():
                row = ChannelMessage.objects.select_for_update(of=("self",)).get(pk=pk)
                if row.outcome != outcome:
                    continue
                link.refresh_from_db()
                row.link = link
                with translation.override(link.user.language or settings.LANGUAGE_CODE):
                    _conversation(row, message, link, PermSet(link.user), files, answers)
                if row.outcome == Outcome.WAITING and outcome == Outcome.WAITING:
                    continue  # still no organisation: nothing changed
                row.resolved_at = timezone.now()
                row.save()
            _tell(adapter, link.chat_id, answers, link.user)
            done += 1
    return done
