"""Inbound mail → requests and replies, exactly once, never losing a message.

``ingest(raw)`` is the one entry point for every source (IMAP, a pipe from the MTA, files).
It records one ``InboundMessage`` per distinct message, whatever happens to it:

1. Duplicates (same Message-ID, or the same content hash when there is none) are
   recognised and nothing is done twice.
2. Over a limit, or unparseable: stored as *rejected* with the reason; the sender is told
   once a day per reason (never when the mail is automatic).
3. Our own mail, bounces (recorded on the address), automatic replies: no ticket, no reply.
4. A reply — by reply token, by References/In-Reply-To, by the number in the subject — is
   added to its request only if the sender may write to it (zammad#5064: a number in a
   subject is not a permission); otherwise the mail is treated as new.
5. New mail opens a request in the sender's organisation (by address, then by domain);
   unknown senders and ambiguous cases wait in triage.

The whole routing of one message is one transaction with its ``InboundMessage`` row,
whose unique keys are inserted first: a crash anywhere leaves nothing, a rerun redoes it,
and two ingesters racing on one message make exactly one of everything.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet, Role, shared_permsets
from aftercare.desk import approvals, services
from aftercare.desk.attachments import validate_upload
from aftercare.desk.merge import resolve_merged
from aftercare.desk.models import Approval, Category, Channel, Ticket
from aftercare.desk.notes import deferred as deferred_note
from aftercare.mail import outbound
from aftercare.mail.models import AddressStatus, InboundMessage, Mailbox, OutboundMail
from aftercare.mail.parsing import (
    REJECTION_CODES,
    Limits,
    MailRejected,
    ParsedMail,
    content_hash,
    parse,
)
from aftercare.ops.maintenance import check_writable
from aftercare.tenancy.models import Membership, Organisation

log = logging.getLogger(__name__)
Outcome = InboundMessage.Outcome

# Other apps recognise answers to their own mail (``saas``: an offer confirmed by reply).
# A hook is ``hook(row, parsed, sender) -> bool`` (``sender`` may be None); it returns True
# when it handled the message and set the row's outcome. Registered in ``AppConfig.ready``.
REPLY_HOOKS: list = []

# Shown to agents in the mail log and (for rejections) told to the sender.
REASONS = {
    "too_large": gettext_lazy("the message is larger than the limit"),
    "too_many_parts": gettext_lazy("the message has too many parts"),
    "too_deep": gettext_lazy("the message is nested too deeply"),
    "attachment_too_large": gettext_lazy("an attachment is larger than the limit"),
    "headers_too_large": gettext_lazy("the message headers are too large"),
    "unparseable": gettext_lazy("the message could not be read"),
    "no_sender": gettext_lazy("the message has no sender address"),
    "rate_limited": gettext_lazy("too many messages from this sender today"),
    "processing_failed": gettext_lazy("the message could not be processed"),
    "own_mail": gettext_lazy("our own message came back"),
    "automatic": gettext_lazy("automatic message (auto-reply, list or bulk mail)"),
    "bounce": gettext_lazy("delivery failure report"),
    "unknown_sender": gettext_lazy("the sender is not known"),
    "several_organisations": gettext_lazy("the sender belongs to several organisations"),
    "staff_sender": gettext_lazy("a staff member wrote to the support address"),
    "ambiguous_sender": gettext_lazy(
        "several accounts have the sender's address; choose the sender when opening a request"
    ),
    "unclear_decision": gettext_lazy(
        "a reply to an offer or approval that is neither a clear yes nor a clear no"
    ),
    "message_id_reused": gettext_lazy(
        "the Message-ID repeats an earlier, different message; processed as a message of its own"
    ),
}
# Rejections the sender is told about (once per day per reason).
TELL_SENDER = frozenset(REJECTION_CODES)

# MIME parts that travel as attachments but are no one's files.
NOT_FILES = frozenset(
    {
        "application/pgp-signature",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "message/delivery-status",
        "message/disposition-notification",
        "text/rfc822-headers",
    }
)


@dataclass
class Result:
    inbound: InboundMessage
    created: bool  # False: a duplicate of a message already processed

    @property
    def outcome(self) -> str:
        return self.inbound.outcome


def limits() -> Limits:
    return Limits(
        max_bytes=settings.AFTERCARE_MAIL_MAX_BYTES,
        max_parts=settings.AFTERCARE_MAIL_MAX_PARTS,
        max_depth=settings.AFTERCARE_MAIL_MAX_DEPTH,
        max_attachment_bytes=settings.AFTERCARE_MAX_ATTACHMENT_BYTES,
    )


def _duplicate(digest: str) -> InboundMessage | None:
    """The earlier copy of this very message (same content, whatever route it took)."""
    return InboundMessage.objects.filter(content_hash=digest).order_by("pk").first()


def _same_message_id(message_id: str) -> InboundMessage | None:
    if not message_id:
        return None
    return InboundMessage.objects.filter(message_id=message_id[:998]).order_by("pk").first()


# -- one fetch: look-ups shared by its messages ---------------------------------------------

# How many messages share one batch's look-ups (``ingest_many`` splits longer lists): a
# batch's caches are as old as its first message.
BATCH_SIZE = 100


class _Batch:
    """Read-only look-ups shared by the messages of one fetch, made before any lock.

    Nothing here writes. What a message's own transaction changes that a later message of
    the batch would look up (an account registered, a membership added, a row stored) is
    noted here right after it, so every message sees what a message-by-message intake
    would have seen.
    """

    def __init__(self, mailbox: Mailbox | None) -> None:
        self.mailbox = mailbox
        self._mailboxes: list[tuple[str, str]] | None = None
        self._users: dict[str, list[User]] = {}
        self._organisations: dict[tuple[str, int | None], tuple[Organisation | None, str]] = {}
        self._member_of: dict[int, list[Organisation]] = {}
        self._sent: dict[str, int] = {}  # sender -> inbound rows in the last day (known)
        self._since = timezone.now() - timedelta(days=1)
        self.known: dict[str, InboundMessage] = {}  # "h:<hash>" / "m:<message id>" -> row
        self._prefetched: set[str] = set()

    # configuration
    def mailboxes(self) -> list[tuple[str, str]]:
        """(address, improvement address) of every mailbox: one query per batch."""
        if self._mailboxes is None:
            self._mailboxes = list(Mailbox.objects.values_list("address", "improvement_address"))
        return self._mailboxes

    # de-duplication
    def prefetch(self, digests: list[str], message_ids: list[str]) -> None:
        """The rows stored earlier with any of these hashes or Message-IDs: one query."""
        from django.db.models import Q

        digests = [d for d in digests if f"h:{d}" not in self._prefetched]
        message_ids = [m[:998] for m in message_ids if m and f"m:{m[:998]}" not in self._prefetched]
        if not digests and not message_ids:
            return
        rows = InboundMessage.objects.filter(
            Q(content_hash__in=digests) | Q(message_id__in=message_ids)
        ).order_by("pk")
        for row in rows:
            self.known.setdefault(f"h:{row.content_hash}", row)
            if row.message_id:
                self.known.setdefault(f"m:{row.message_id}", row)
        self._prefetched.update(f"h:{d}" for d in digests)
        self._prefetched.update(f"m:{m}" for m in message_ids)

    def duplicate(self, digest: str) -> InboundMessage | None:
        if f"h:{digest}" not in self._prefetched:
            return _duplicate(digest)
        return self.known.get(f"h:{digest}")

    def same_message_id(self, message_id: str) -> InboundMessage | None:
        message_id = message_id[:998]
        if not message_id:
            return None
        if f"m:{message_id}" not in self._prefetched:
            return _same_message_id(message_id)
        return self.known.get(f"m:{message_id}")

    def stored(self, row: InboundMessage) -> None:
        """A row this batch stored: a later copy of it is a duplicate, its sender counts."""
        self.known[f"h:{row.content_hash}"] = row
        self._prefetched.add(f"h:{row.content_hash}")
        if row.message_id:
            self.known[f"m:{row.message_id}"] = row
            self._prefetched.add(f"m:{row.message_id}")
        if row.sender in self._sent:
            self._sent[row.sender] += 1

    # the daily cap per sender
    def prefetch_senders(self, addresses: list[str]) -> None:
        from django.db.models import Count

        wanted = sorted({a for a in addresses if a and a not in self._sent})
        if not wanted:
            return
        counts = dict(
            InboundMessage.objects.filter(sender__in=wanted, received_at__gte=self._since)
            .values_list("sender")
            .annotate(n=Count("pk"))
            .values_list("sender", "n")
            .order_by()
        )
        for address in wanted:
            self._sent[address] = counts.get(address, 0)

    def sent_today(self, address: str) -> int:
        """Rows stored from ``address`` in the last day (the message itself not yet)."""
        if address not in self._sent:
            self.prefetch_senders([address])
        return self._sent[address]

    # who wrote
    def users(self, address: str) -> list[User]:
        key = address.lower()
        if key not in self._users:
            self._users[key] = _active_users(address)
        return self._users[key]

    def member_of(self, user: User) -> list[Organisation]:
        """The active organisations ``user`` belongs to."""
        if user.pk not in self._member_of:
            self._member_of[user.pk] = list(
                Organisation.objects.filter(memberships__user=user, is_active=True).distinct()
            )
        return self._member_of[user.pk]

    def organisation_for(
        self, address: str, sender: User | None, mailbox: Mailbox | None
    ) -> tuple[Organisation | None, str]:
        key = (address, sender.pk if sender else None)
        if key not in self._organisations:
            member_of = self.member_of(sender) if sender is not None else None
            self._organisations[key] = _organisation_for(address, sender, mailbox, member_of)
        return self._organisations[key]

    def forget_person(self, user: User, address: str) -> None:
        """An account was registered or joined an organisation: look it up afresh."""
        self._users.pop(address.lower(), None)
        self._users.pop((user.email or "").lower(), None)
        self._member_of.pop(user.pk, None)
        for key in [k for k in self._organisations if k[1] in (None, user.pk)]:
            del self._organisations[key]


_batch: ContextVar[_Batch | None] = ContextVar("aftercare_mail_batch", default=None)


def _current_batch(mailbox: Mailbox | None = None) -> _Batch:
    """The running fetch's look-ups; outside one (triage, reprocessing) a fresh set."""
    return _batch.get() or _Batch(mailbox)


# -- intake -------------------------------------------------------------------------------


def ingest(
    raw: bytes, *, mailbox: Mailbox | None = None, source: str = "", _again: bool = False
) -> Result:
    """Process one raw message. Raises only when the database itself is unavailable.

    Only the same content is a duplicate. A different message that reuses an earlier
    Message-ID (a broken mailer, a forgery) is processed as a message of its own: its
    row keeps the Message-ID aside (``reused_message_id``), so nothing threads to it as
    if it were the earlier one, and the clash is recorded and shown on the mail pages.

    Everything that only reads — parsing, charset decoding, sanitising, quote stripping,
    attachment checks, de-duplication, who the sender is, which request the mail refers
    to, which organisation — happens before the message's one write transaction, which
    holds the database's write lock only for the rows it writes.
    """
    batch = _batch.get()
    if batch is None:
        token = _batch.set(_Batch(mailbox))
        try:
            return _ingest_one(raw, mailbox=mailbox, source=source, _again=_again)
        finally:
            _batch.reset(token)
    return _ingest_one(raw, mailbox=mailbox, source=source, _again=_again)


def ingest_many(
    raws: Iterable[bytes], *, mailbox: Mailbox | None = None, source: str = ""
) -> list[Result]:
    """Process messages that arrived together (a fetch, an mbox file), in order.

    The same as ``ingest`` for each, one transaction per message, but the look-ups are
    shared: one query finds the duplicates of up to ``BATCH_SIZE`` messages, one counts
    their senders' mail of the day, the mailboxes are read once, and a sender or
    organisation is looked up once per batch.
    """
    raws = list(raws)
    results: list[Result] = []
    for start in range(0, len(raws), BATCH_SIZE):
        with intake_batch(mailbox) as batch:
            chunk = raws[start : start + BATCH_SIZE]
            check_writable()
            prepared = [_prepare(raw) for raw in chunk]
            batch.prefetch(
                [digest for digest, _p, _r in prepared],
                [parsed.message_id for _d, parsed, _r in prepared if parsed],
            )
            batch.prefetch_senders([parsed.from_address for _d, parsed, _r in prepared if parsed])
            for raw, ready in zip(chunk, prepared, strict=True):
                results.append(_ingest_one(raw, mailbox=mailbox, source=source, prepared=ready))
    return results


@contextmanager
def intake_batch(mailbox: Mailbox | None = None) -> Iterator[_Batch]:
    """Messages ingested inside share one batch's look-ups (see ``_Batch``).

    For a source that hands over messages one at a time but in a run (the IMAP poller
    fetching, storing and flagging each in turn)."""
    token = _batch.set(_Batch(mailbox))
    try:
        yield _batch.get()
    finally:
        _batch.reset(token)


def _prepare(raw: bytes) -> tuple[str, ParsedMail | None, MailRejected | None]:
    """Hash and parse: CPU only, no database."""
    digest = content_hash(raw)
    try:
        return digest, parse(raw, limits()), None
    except MailRejected as exc:
        return digest, None, exc


def _ingest_one(raw: bytes, **kwargs) -> Result:
    """One message, with one permission set per person for all its checks (the sender's
    memberships and roles are asked once, not by each rule)."""
    with shared_permsets():
        return _ingest_message(raw, **kwargs)


def _ingest_message(
    raw: bytes,
    *,
    mailbox: Mailbox | None,
    source: str,
    _again: bool = False,
    prepared: tuple[str, ParsedMail | None, MailRejected | None] | None = None,
) -> Result:
    check_writable()  # maintenance mode: refuse before anything is stored
    batch = _current_batch(mailbox)
    digest, parsed, rejected = prepared or _prepare(raw)
    message_id = parsed.message_id[:998] if parsed else ""
    batch.prefetch([digest], [message_id])  # one query, or none when the batch knows
    found = batch.duplicate(digest)
    if found is not None:
        return Result(found, False)
    clash = batch.same_message_id(message_id)
    row = InboundMessage(
        message_id="" if clash else message_id,
        reused_message_id=message_id if clash else "",
        same_id_as=clash,
        content_hash=digest,
        mailbox=mailbox,
        source=source[:255],
        size=len(raw),
        received_at=timezone.now(),
        outcome=Outcome.REJECTED,
    )
    if parsed is not None:
        _describe(row, parsed)
        if parsed.problems:
            # e.g. an undeclared charset that had to be detected: shown on the mail pages
            row.detail = _("Read with problems: %(problems)s") % {
                "problems": "; ".join(parsed.problems[:10])
            }
    else:
        row.sender, row.subject = _light_headers(raw)
    if rejected is not None or len(raw) <= settings.AFTERCARE_MAIL_MAX_BYTES:
        # Keep what arrived (only the headers of an oversized message).
        keep = raw if len(raw) <= settings.AFTERCARE_MAIL_MAX_BYTES else raw[:65536]
        row.raw.save("message.eml", ContentFile(keep), save=False)
    try:
        plan = _plan(row, parsed, mailbox) if rejected is None else None
        result = _store(row, parsed, rejected, mailbox, plan)
    except IntegrityError:
        _discard_file(row)
        batch.known.clear()
        batch._prefetched.clear()
        found = _duplicate(digest)  # a racing ingester stored this very message
        if found is not None:
            return Result(found, False)
        if clash is None and not _again and _same_message_id(message_id) is not None:
            # A different message with this Message-ID was stored meanwhile: once more,
            # now as a message that reuses it.
            return _ingest_one(raw, mailbox=mailbox, source=source, _again=True)
        raise
    except (OperationalError, InterfaceError):
        _discard_file(row)
        raise  # the database is away: leave the message where it is, try again later
    except Exception as exc:  # a bug must not stop the intake: keep the message as failed
        _discard_file(row)
        log.exception("mail intake failed for %s", row.message_id or digest)
        result = _store_failure(row, raw, exc)
    batch.stored(result.inbound)
    return result


def _describe(row: InboundMessage, parsed: ParsedMail) -> None:
    """The ledger's copy of the headers the mail log and triage show."""
    row.sender = parsed.from_address[:320]
    row.sender_name = parsed.from_name[:255]
    row.subject = parsed.subject[:998]
    row.sent_at = parsed.date
    row.auto_submitted = parsed.auto_submitted or parsed.is_bounce


def reprocess(row: InboundMessage, raw: bytes) -> str:
    """Run parsing and routing again on a message's existing ledger row; the new outcome.

    The row keeps its Message-ID and hash (what makes intake exactly-once), so nothing is
    stored twice. Call inside a transaction holding the row's lock. As in intake, a bug in
    routing keeps the message as ``processing_failed`` with the error.
    """
    try:
        parsed = parse(raw, limits())
    except MailRejected as exc:
        _set(row, Outcome.REJECTED, exc.code, exc.detail)
        row.save()
        return row.outcome
    _describe(row, parsed)
    row.reason = ""
    try:
        with transaction.atomic():
            _route(row, parsed, row.mailbox)
            row.save()
    except Exception as exc:  # as in intake: a bug keeps the message, as failed, with why
        log.exception("processing inbound message %s again failed", row.pk)
        row.refresh_from_db()
        _set(row, Outcome.REJECTED, "processing_failed")
        row.detail = f"{type(exc).__name__}: {exc}"[:2000]
        row.save()
    return row.outcome


def _discard_file(row: InboundMessage) -> None:
    if row.raw:
        try:
            row.raw.delete(save=False)
        except OSError:
            log.warning("could not remove %s", row.raw.name)


def _store(row, parsed, rejected, mailbox, plan: _Plan | None = None) -> Result:
    """The message's one write transaction: its ledger row, then what routing decided."""
    with transaction.atomic():
        row.save()  # the unique keys first: a racing duplicate fails here, before any work
        if rejected is not None:
            _reject(row, rejected.code, rejected.detail)
        else:
            _route(row, parsed, mailbox, plan)
        _record_clash(row)
        row.save()
    return Result(row, True)


def _record_clash(row: InboundMessage) -> None:
    """A reused Message-ID is written on the row, whatever else happened to the mail."""
    if not row.reused_message_id:
        return
    earlier = row.same_id_as
    note = _(
        "The Message-ID <%(id)s> was already used by an earlier, different message "
        "(#%(pk)s from %(sender)s); this one was processed as a message of its own."
    ) % {
        "id": row.reused_message_id,
        "pk": earlier.pk if earlier else "?",
        "sender": (earlier.sender if earlier else "") or "?",
    }
    if note not in row.detail:
        row.detail = (row.detail + "\n" + note).strip()[:4000]
    if not row.reason:
        row.reason = "message_id_reused"


def _store_failure(row: InboundMessage, raw: bytes, exc: Exception) -> Result:
    row.pk = None
    row.ticket = None
    row.ticket_message = None
    row.organisation = None
    row.raw = None
    row.raw.save("message.eml", ContentFile(raw[: settings.AFTERCARE_MAIL_MAX_BYTES]), save=False)
    row.outcome = Outcome.REJECTED
    row.reason = "processing_failed"
    row.detail = f"{type(exc).__name__}: {exc}"[:2000]
    _record_clash(row)
    try:
        row.save()
    except DatabaseError:
        _discard_file(row)
        raise
    return Result(row, True)


def _light_headers(raw: bytes) -> tuple[str, str]:
    """Sender and subject of a message we refuse to parse, read from its first lines only."""
    from email.header import decode_header, make_header
    from email.utils import parseaddr

    head = raw[:65536].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("latin-1")
    fields: dict[str, str] = {}
    for line in re.split(r"\r?\n(?![ \t])", head):
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() in ("from", "subject"):
            fields.setdefault(name.strip().lower(), value.strip())
    try:
        subject = str(make_header(decode_header(fields.get("subject", ""))))
    except (LookupError, UnicodeError, ValueError):  # a broken encoded word: keep it raw
        subject = fields.get("subject", "")
    return parseaddr(fields.get("from", ""))[1].lower()[:320], subject[:998]


def _reject(row: InboundMessage, code: str, detail: str = "") -> None:
    row.outcome = Outcome.REJECTED
    row.reason = code
    row.detail = detail[:2000]
    if code in TELL_SENDER and row.sender and not row.auto_submitted:
        day = timezone.localdate().isoformat()
        outbound.queue(
            "mail_rejected",
            key=f"rejected:{row.sender}:{code}:{day}",
            address=row.sender,
            params={"subject": row.subject or "—", "reason": REASONS.get(code, code)},
        )


def _set(row: InboundMessage, outcome: str, reason: str = "", detail: str = "") -> None:
    row.outcome = outcome
    row.reason = reason
    if detail:
        row.detail = (row.detail + "\n" + detail).strip()[:4000]


def _is_own(parsed: ParsedMail) -> bool:
    if parsed.aftercare_loop and parsed.aftercare_loop.strip() == settings.AFTERCARE_MAIL_DOMAIN:
        return True
    ours = {outbound.support_address(), *(a for a, _i in _current_batch().mailboxes())}
    return parsed.from_address in {a.lower() for a in ours if a}


_UNKNOWN = object()


@dataclass
class _Plan:
    """What routing one message needs to know, looked up before its write transaction.

    Only reads: the transaction then writes what these facts decide, in the order
    ``_route`` gives them. The services it calls check again under their row locks
    (who may write to a request, whether it still takes replies)."""

    own: bool = False
    rate_limited: bool = False
    sender: User | None = None
    ambiguous: AmbiguousSender | None = None
    # Our mail the message refers to: (Message-ID, kind, dedupe key, request number).
    ours: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    ticket: Ticket | None = None
    note: str = ""
    is_agent: bool = False
    files: tuple[list, list] | None = None
    organisation: object = _UNKNOWN  # Organisation | None, once looked up
    reason: str = ""
    member: bool = False  # the sender already belongs to ``organisation``


def _plan(row: InboundMessage, parsed: ParsedMail, mailbox: Mailbox | None) -> _Plan:
    """The look-ups of ``_route``, in its order, stopping where its decision is made."""
    plan = _Plan()
    if _is_own(parsed):
        plan.own = True
        return plan
    if parsed.is_bounce or "@" not in parsed.from_address:
        return plan  # decided (and written) in the transaction
    if row.pk is None:
        sent = _current_batch(mailbox).sent_today(parsed.from_address)
    else:  # processed again: the row itself is one of the day's
        since = timezone.now() - timedelta(days=1)
        recent = InboundMessage.objects.filter(sender=parsed.from_address, received_at__gte=since)
        sent = recent.exclude(pk=row.pk).count()
    if sent >= settings.AFTERCARE_MAIL_SENDER_DAILY_CAP:
        plan.rate_limited = True
        return plan
    try:
        plan.sender = _sender(parsed.from_address)
    except AmbiguousSender as exc:
        plan.ambiguous = exc
        return plan
    plan.ours = _our_mail(parsed)
    plan.ticket, plan.note = _referenced_ticket(parsed, plan.sender, plan.ours)
    plan.files = _check_files(parsed)
    if parsed.auto_submitted:
        return plan
    plan.is_agent = plan.sender is not None and PermSet(plan.sender).is_agent
    if plan.ticket is None and not plan.is_agent:
        _plan_organisation(plan, parsed, mailbox)
    return plan


def _plan_organisation(plan: _Plan, parsed: ParsedMail, mailbox: Mailbox | None) -> None:
    batch = _current_batch(mailbox)
    organisation, reason = batch.organisation_for(parsed.from_address, plan.sender, mailbox)
    plan.organisation, plan.reason = organisation, reason
    plan.member = (
        organisation is not None
        and plan.sender is not None
        and organisation in batch.member_of(plan.sender)
    )


def _route(
    row: InboundMessage, parsed: ParsedMail, mailbox: Mailbox | None, plan: _Plan | None = None
) -> None:
    """Decide and write what becomes of one message (inside its transaction).

    ``plan`` holds the look-ups made before the transaction; without one (a message
    processed again) they are made here."""
    if plan is None:
        plan = _plan(row, parsed, mailbox)
    if plan.own:
        return _set(row, Outcome.IGNORED, "own_mail")
    if parsed.is_bounce:
        sent = _bounced_mail(parsed)
        recorded = _record_bounce(parsed, sent)
        detail = ", ".join(parsed.bounced_recipients)
        if not recorded:
            detail = _("Not a report about mail we sent; no address was changed.")
        elif sent.ticket_id:
            _bounce_note(row, parsed, sent)
        return _set(row, Outcome.BOUNCE, "bounce", detail)
    if "@" not in parsed.from_address:
        # No readable sender (a gateway's broken From): an operator chooses one in triage.
        if parsed.auto_submitted:
            return _set(row, Outcome.TRIAGE, "automatic", parsed.auto_reason)
        return _set(row, Outcome.TRIAGE, "no_sender")
    if plan.rate_limited:
        return _reject(row, "rate_limited")
    if plan.ambiguous is not None:
        # Never pick one of several accounts: whoever it is, the mail waits for a person.
        return _set(row, Outcome.TRIAGE, "ambiguous_sender", plan.ambiguous.detail)
    sender = plan.sender

    if (
        sender is not None
        and not parsed.auto_submitted
        and _approval_reply(row, parsed, sender, plan.ours)
    ):
        return None
    if not parsed.auto_submitted and any(hook(row, parsed, sender) for hook in REPLY_HOOKS):
        return None
    ticket, note = plan.ticket, plan.note
    closed = None  # the sender's own request that no longer takes replies
    if ticket is not None:
        row.ticket = ticket
        row.organisation_id = ticket.organisation_id
        if parsed.auto_submitted:
            return _set(row, Outcome.IGNORED, "automatic", parsed.auto_reason)
        if _add_reply(row, parsed, ticket, sender, plan.files):
            return None
        closed = ticket
    if parsed.auto_submitted:
        return _set(row, Outcome.TRIAGE, "automatic", parsed.auto_reason)
    if sender is not None and plan.is_agent:
        return _set(row, Outcome.TRIAGE, "staff_sender", note)
    if plan.organisation is _UNKNOWN:
        _plan_organisation(plan, parsed, mailbox)
    organisation = plan.organisation
    if organisation is None:
        return _set(row, Outcome.TRIAGE, plan.reason, note)
    if sender is None:
        sender = _register(parsed, organisation)
        _current_batch(mailbox).forget_person(sender, parsed.from_address)
    if not plan.member and not sender.memberships.filter(organisation=organisation).exists():
        Membership.objects.create(user=sender, organisation=organisation, role=Role.CUSTOMER)
        _current_batch(mailbox).forget_person(sender, parsed.from_address)
    _open(row, parsed, organisation, sender, mailbox, note, follow_up_of=closed, files=plan.files)
    return None


def _our_mail(parsed: ParsedMail) -> list[tuple[str, str, str, str | None]]:
    """Our outgoing mail the message answers or refers to (one query for threading and
    for approvals): (Message-ID, kind, dedupe key, request number or None)."""
    refs = [*parsed.in_reply_to, *parsed.references]
    ids = {f"<{r}>" for r in refs} | {f"<{r[:998]}>" for r in refs}
    if not ids:
        return []
    return list(
        OutboundMail.objects.filter(message_id__in=sorted(ids)).values_list(
            "message_id", "kind", "dedupe_key", "ticket__number"
        )
    )


# -- who wrote ----------------------------------------------------------------------------


class AmbiguousSender(Exception):
    """More than one active account has the sender's address."""

    def __init__(self, address: str, users: list[User]) -> None:
        super().__init__(address)
        self.address = address
        self.users = users
        self.detail = _("Several active accounts have the address %(address)s: %(users)s.") % {
            "address": address,
            "users": ", ".join(u.username for u in users),
        }


def _active_users(address: str) -> list[User]:
    """Active accounts with this address, case-insensitively (a few at most)."""
    if not address:
        return []
    return list(User.objects.filter(email__iexact=address, is_active=True).order_by("pk")[:10])


def _sender(address: str) -> User | None:
    """The one active account with this address; None when there is none.

    Raises :class:`AmbiguousSender` when there are several: mail is never attributed to
    one of them by guesswork (whichever it picked could write into the others' requests).
    """
    users = _current_batch().users(address)
    if len(users) > 1:
        raise AmbiguousSender(address, users)
    return users[0] if users else None


def _organisations_by_domain(address: str) -> list[Organisation]:
    domain = address.rpartition("@")[2].lower()
    if not domain:
        return []
    candidates = Organisation.objects.filter(is_active=True, mail_domains__icontains=domain)
    return [o for o in candidates if domain in o.domain_list()]


def _organisation_for(
    address: str,
    sender: User | None,
    mailbox: Mailbox | None,
    member_of: list[Organisation] | None = None,
) -> tuple[Organisation | None, str]:
    default = mailbox.default_organisation if mailbox else None
    if sender is not None:
        if member_of is None:
            member_of = list(
                Organisation.objects.filter(memberships__user=sender, is_active=True).distinct()
            )
        if len(member_of) == 1:
            return member_of[0], ""
        if len(member_of) > 1:
            if default is not None and default in member_of:
                return default, ""
            by_domain = [o for o in _organisations_by_domain(address) if o in member_of]
            if len(by_domain) == 1:
                return by_domain[0], ""
            return None, "several_organisations"
    by_domain = _organisations_by_domain(address)
    if len(by_domain) == 1:
        return by_domain[0], ""
    if len(by_domain) > 1:
        return None, "several_organisations"
    if default is not None and mailbox.register_unknown_senders:
        return default, ""
    return None, "unknown_sender"


def _register(parsed: ParsedMail, organisation: Organisation, address: str = "") -> User:
    """A contact who wrote in for the first time: an account without a password."""
    address = address or parsed.from_address
    base = re.sub(r"[^\w.@+-]", "", address)[:140] or "contact"
    username = base
    while User.objects.filter(username=username).exists():
        username = f"{base}-{secrets.token_hex(3)}"
    name = parsed.from_name if address == parsed.from_address else ""
    first, _sp, last = (name or "").strip().partition(" ")
    user = User(
        username=username,
        email=address,
        first_name=first[:150],
        last_name=last[:150],
        language=organisation.language,
    )
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Another intake registered the same address a moment ago (active addresses are
        # unique): that account is the sender.
        existing = User.objects.filter(email__iexact=address, is_active=True).first()
        if existing is None:
            raise
        return existing
    return user


# -- threading ----------------------------------------------------------------------------


def _number_re() -> re.Pattern:
    prefix = re.escape(settings.AFTERCARE_TICKET_PREFIX)
    return re.compile(rf"(?<![\w-])({prefix}-\d{{4}}-\d{{6}})(?![\w-])", re.IGNORECASE)


def _candidates(
    parsed: ParsedMail, ours: list[tuple[str, str, str, str | None]] | None = None
) -> list[str]:
    """Request numbers this mail refers to, strongest evidence first.

    ``ours``: the outgoing mail it refers to, when already looked up (``_our_mail``)."""
    numbers: list[str] = []
    addresses = " ".join([*parsed.to, *parsed.cc])
    numbers += outbound.numbers_from_tokens(addresses)
    numbers += outbound.numbers_from_tokens(parsed.text[-4000:])
    refs = [*parsed.in_reply_to, *reversed(parsed.references)]
    if refs:
        refs = [r[:998] for r in refs]
        if ours is None:
            ours = _our_mail(parsed)
        by_out = {m: number for m, _kind, _key, number in ours if number is not None}
        by_in = dict(
            InboundMessage.objects.filter(message_id__in=refs)
            .exclude(ticket=None)
            .values_list("message_id", "ticket__number")
        )
        domain = "@" + settings.AFTERCARE_MAIL_DOMAIN.lower()
        for ref in refs:
            if f"<{ref}>" in by_out:
                numbers.append(by_out[f"<{ref}>"])
            elif ref in by_in:
                numbers.append(by_in[ref])
            elif ref.lower().endswith(domain):
                numbers += [m.upper() for m in _number_re().findall(ref.split(".", 1)[0])]
    numbers += [m.upper() for m in _number_re().findall(parsed.subject)]
    return list(dict.fromkeys(numbers))


def _may_write(sender: User | None, ticket: Ticket) -> bool:
    """Whether mail from ``sender`` may go into ``ticket`` as their own public reply.

    The one gate for every way a mail names a request (reply token, In-Reply-To,
    References, the number in the subject) and for triage: the sender must see the
    request (a restricted agent only its organisations' requests, a customer only their
    organisation's) and act in a role on it.
    """
    if sender is None:
        return False
    permset = PermSet(sender)
    return permset.may_view_ticket(ticket) and bool(permset.ticket_roles(ticket))


def _referenced_ticket(
    parsed: ParsedMail,
    sender: User | None,
    ours: list[tuple[str, str, str, str | None]] | None = None,
) -> tuple[Ticket | None, str]:
    refused = []
    numbers = _candidates(parsed, ours)
    tickets = {t.number: t for t in Ticket.objects.filter(number__in=numbers)}
    for number in numbers:
        ticket = tickets.get(number)
        if ticket is None:
            continue
        # A merged duplicate's thread continues in the request it was merged into, for a
        # sender who may write there; else the mail is judged on the duplicate as before.
        survivor = resolve_merged(ticket)
        if survivor.pk != ticket.pk and _may_write(sender, survivor):
            return survivor, ""
        if _may_write(sender, ticket):
            return ticket, ""
        refused.append(number)
    note = ""
    if refused:
        note = _("The mail refers to %(numbers)s, which the sender may not write to.") % {
            "numbers": ", ".join(refused)
        }
    return None, note


# -- doing it -----------------------------------------------------------------------------


def _body(parsed: ParsedMail) -> tuple[str, str]:
    text = (parsed.reply_text or "").strip()
    quoted = parsed.quoted_text or ""
    if not text:
        text, quoted = (parsed.text or "").strip(), ""
    if not text:
        text = _("(no text; see the attachments)") if parsed.attachments else _("(empty message)")
    return text, quoted


def _check_files(parsed: ParsedMail) -> tuple[list[tuple[str, bytes, str]], list[str]]:
    """(name, data, type) of the attachments that pass the desk's checks, and why the
    others were refused. No database: done before the transaction."""
    kept: list[tuple[str, bytes, str]] = []
    refused: list[str] = []
    for att in parsed.attachments:
        if att.content_type in NOT_FILES:
            continue  # a signature or a report's machinery, not something the customer sent
        upload = SimpleUploadedFile(att.filename or "attachment.bin", att.data, att.content_type)
        if len(kept) >= settings.AFTERCARE_MAX_ATTACHMENTS_PER_MESSAGE:
            refused.append(_("“%(name)s”: too many attachments") % {"name": upload.name})
            continue
        try:
            validate_upload(upload)
        except ValidationError as exc:
            refused.append(" ".join(exc.messages))
            continue
        kept.append((upload.name, att.data, att.content_type))
    return kept, refused


def _uploads(
    row: InboundMessage,
    parsed: ParsedMail,
    checked: tuple[list[tuple[str, bytes, str]], list[str]] | None = None,
) -> list[SimpleUploadedFile]:
    """Attachments that pass the desk's checks; the others are listed on the row.

    ``checked``: ``_check_files``'s answer when made earlier. The files are new objects
    each call (a refused reply's files go into the follow-up request unread)."""
    kept, refused = checked if checked is not None else _check_files(parsed)
    if refused:
        row.detail = (row.detail + "\n" + "\n".join(refused)).strip()[:4000]
    row.refused_files = refused
    return [SimpleUploadedFile(name, data, content_type) for name, data, content_type in kept]


def _refused_note(row: InboundMessage, ticket: Ticket) -> None:
    refused = getattr(row, "refused_files", None)
    if refused:
        services.system_note(
            ticket=ticket,
            action="mail.attachments_refused",
            note=deferred_note(
                gettext_noop("Files in the e-mail that were not accepted:\n%(files)s"),
                files="\n".join(refused),
            ),
        )


def _add_reply(
    row: InboundMessage,
    parsed: ParsedMail,
    ticket: Ticket,
    sender: User,
    files: tuple[list, list] | None = None,
) -> bool:
    text, quoted = _body(parsed)
    uploads = _uploads(row, parsed, files)
    try:
        with transaction.atomic():
            message = services.reply(
                ticket=ticket,
                actor=sender,
                body=text,
                channel=Channel.EMAIL,
                attachments=uploads,
                quoted=quoted,
                html=parsed.html,
            )
    except services.AttachmentStorageError:
        raise  # storage away: not a refusal; the message is kept as failed, to retry
    except (ValidationError, PermissionDenied) as exc:
        # e.g. an archived request: the customer's mail opens a follow-up request instead.
        row.detail = (row.detail + "\n" + " ".join(getattr(exc, "messages", [str(exc)]))).strip()
        row.ticket = None
        return False
    row.ticket_message = message
    _refused_note(row, ticket)
    _set(row, Outcome.REPLY)
    return True


# A sender proposes an improvement by tagging the subject, in any of the site's languages
# (and without diacritics, as phones and old mailers often write them).
IMPROVEMENT_TAGS = (
    "improvement",
    "suggestion",
    "proposal",
    "idea",
    "enhancement",
    "îmbunătățire",
    "îmbunătăţire",
    "imbunatatire",
    "sugestie",
    "propunere",
    "amélioration",
    "amelioration",
    "proposition",
    "idée",
    "idee",
    "покращення",
    "пропозиція",
    "вдосконалення",
    "ідея",
    "улучшение",
    "предложение",
    "идея",
)
_IMPROVEMENT_TAG = re.compile(
    r"\[\s*(?:" + "|".join(re.escape(t) for t in IMPROVEMENT_TAGS) + r")\s*\]",
    re.IGNORECASE,
)


def _improvement_addresses(mailbox: Mailbox | None) -> set[str]:
    """The aliases for improvement proposals: the fetching mailbox's, or, for mail that
    arrives without one (piped in, re-processed), every mailbox's."""
    if mailbox is not None:
        return {mailbox.improvement_address.lower()} if mailbox.improvement_address else set()
    return {alias.lower() for _a, alias in _current_batch().mailboxes() if alias}


def classify(parsed: ParsedMail, mailbox: Mailbox | None) -> tuple[str, str]:
    """(category, subject) of a new request opened from mail.

    The sender classifies the mail as an improvement proposal by a subject tag
    ("[improvement]", "[предложение]", …: removed from the subject) or by writing to the
    mailbox's alias for proposals; otherwise the mailbox's default category applies.
    """
    default = mailbox.default_category if mailbox else Category.INCIDENT
    subject = parsed.subject
    tagged = _IMPROVEMENT_TAG.search(subject)
    if tagged:
        subject = re.sub(r"\s{2,}", " ", _IMPROVEMENT_TAG.sub(" ", subject)).strip(" -:")
    recipients = {a.lower() for a in (*parsed.to, *parsed.cc)}
    aliased = bool(recipients & _improvement_addresses(mailbox))
    if tagged or aliased:
        return Category.IMPROVEMENT, subject or parsed.subject
    return default, subject


def _open(
    row: InboundMessage,
    parsed: ParsedMail,
    organisation: Organisation,
    sender: User,
    mailbox: Mailbox | None,
    note: str,
    follow_up_of: Ticket | None = None,
    files: tuple[list, list] | None = None,
) -> None:
    text, quoted = _body(parsed)
    if note:
        row.detail = (row.detail + "\n" + note).strip()
    uploads = _uploads(row, parsed, files)
    category, subject = classify(parsed, mailbox)
    ticket = services.open_ticket(
        actor=sender,
        organisation=organisation,
        subject=subject or _("(no subject)"),
        description=text,
        category=category,
        channel=Channel.EMAIL,
        attachments=uploads,
        quoted=quoted,
        html=parsed.html,
    )
    if follow_up_of is not None:
        services.system_note(
            ticket=ticket,
            action="mail.follow_up",
            note=deferred_note(
                gettext_noop("Follow-up of %(number)s (written by e-mail after it was closed)."),
                number=follow_up_of.number,
            ),
        )
    row.ticket = ticket
    row.organisation = organisation
    row.ticket_message = services.first_message(ticket)
    _refused_note(row, ticket)
    _set(row, Outcome.TICKET)


def _bounced_mail(parsed: ParsedMail) -> OutboundMail | None:
    """The mail of ours a delivery report is about: by the returned message's Message-ID
    (attached, quoted, or Original-Message-ID), else by the report's In-Reply-To and
    References."""
    wanted = [parsed.bounced_message_id, *parsed.in_reply_to, *reversed(parsed.references)]
    ids = [f"<{m.strip().strip('<>')[:990]}>" for m in wanted if m and m.strip("<> ")]
    if not ids:
        return None
    found = {m.message_id: m for m in OutboundMail.objects.filter(message_id__in=ids)}
    return next((found[i] for i in ids if i in found), None)


def _bounce_note(row: InboundMessage, parsed: ParsedMail, sent: OutboundMail) -> None:
    """The report goes on the timeline of the request it is about, as an internal note."""
    ticket = sent.ticket
    services.system_note(
        ticket=ticket,
        action="mail.bounce",
        note=deferred_note(
            gettext_noop(
                "Our e-mail “%(subject)s” to %(address)s could not be delivered: %(reason)s "
                "(delivery report from %(sender)s, mail log #%(row)s)."
            ),
            subject=sent.subject,
            address=sent.to_address,
            reason=parsed.bounce_reason or {"msgid": gettext_noop("no reason given")},
            sender=parsed.from_address or "?",
            row=row.pk,
        ),
    )
    row.ticket = ticket
    row.organisation_id = ticket.organisation_id


def _record_bounce(parsed: ParsedMail, sent: OutboundMail | None) -> bool:
    """Note the failure on the address — only for a report about mail we really sent,
    so a forged delivery report cannot silence our mail to a customer, and only on the
    address that mail went to (each of our mails has one recipient): a report naming
    other recipients cannot silence anyone else."""
    if sent is None:
        return False
    now = timezone.now()
    hard = parsed.bounce_reason.strip().startswith("5") or " 5." in parsed.bounce_reason
    recipients = {sent.to_address.lower()} if sent.to_address else set()
    for address in recipients:
        status, _created = AddressStatus.objects.select_for_update().get_or_create(
            address=address[:320]
        )
        status.bounce_count += 1
        status.bounced_at = now
        status.bounce_reason = parsed.bounce_reason[:2000]
        status.suppressed = status.suppressed or hard or status.bounce_count >= 3
        status.save()
    sent.last_error = (_("Bounced: %(reason)s") % {"reason": parsed.bounce_reason})[:2000]
    sent.save(update_fields=["last_error"])
    return True


def _approval_reply(
    row: InboundMessage,
    parsed: ParsedMail,
    sender: User,
    ours: list[tuple[str, str, str, str | None]] | None = None,
) -> bool:
    """An answer to an approval mail by one of its approvers, read by
    ``lib.replies.decide`` (first meaningful lines, negation, en/ro/fr/uk/ru): a clear
    yes approves, a clear no declines. An unsure answer ("yes, but not before Monday",
    a question, a long text) decides nothing: it is added to the request as the
    approver's reply with an internal note (reason ``unclear_decision``) for the agent."""
    from aftercare.lib import replies

    refs = [f"<{r}>" for r in [*parsed.in_reply_to, *parsed.references]]
    if not refs:
        return False
    if ours is None:
        keys = OutboundMail.objects.filter(message_id__in=refs, kind="approval").values_list(
            "dedupe_key", flat=True
        )
    else:
        wanted = set(refs)
        keys = [key for m, kind, key, _n in ours if kind == "approval" and m in wanted]
    approval_ids = [int(m.group(1)) for k in keys if (m := re.match(r"approval(\d+):", k))]
    if not approval_ids:
        return False
    approval = Approval.objects.filter(pk__in=approval_ids).order_by("-pk").first()
    if approval is None:
        return False
    lines = replies.decision_lines(parsed.reply_text)
    answer = " ".join(lines)[:200]
    decision = replies.decide(parsed.reply_text)
    if decision is None:
        if approval.state != Approval.State.PENDING or not approvals.may_decide(
            sender, approval.ticket
        ):
            return False  # not a pending decision of this sender: the usual routing
        ticket = approval.ticket
        row.organisation_id = approval.organisation_id
        note = deferred_note(
            gettext_noop(
                "The reply to the approval request “%(action)s” is neither a clear yes nor a "
                "clear no; nothing was decided. Ask the customer."
            ),
            action=approval.action[:200],
        )
        if _add_reply(row, parsed, ticket, sender):
            row.ticket = ticket
            row.reason = replies.UNSURE_REASON
            services.system_note(ticket=ticket, action="desk.approval.unclear_reply", note=note)
        else:
            _set(row, Outcome.TRIAGE, replies.UNSURE_REASON, str(note))
        return True
    row.ticket = approval.ticket
    row.organisation_id = approval.organisation_id
    try:
        approvals.decide(
            approval=approval,
            user=sender,
            approve=decision == replies.YES,
            via=Approval.Via.EMAIL,
            note=_("Answered by e-mail: “%(word)s”") % {"word": answer[:80]},
        )
    except (approvals.ApprovalError, PermissionDenied) as exc:
        row.detail = str(getattr(exc, "message", exc))
        row.ticket = None
        return False
    _set(row, Outcome.APPROVAL)
    return True


# -- triage (from the console) ------------------------------------------------------------


class TriageError(Exception):
    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


def _reparse(row: InboundMessage) -> ParsedMail:
    if not row.raw:
        raise TriageError(_("The original message is not stored."))
    with row.raw.open("rb") as fh:
        raw = fh.read()
    try:
        return parse(raw, limits())
    except MailRejected as exc:
        raise TriageError(REASONS.get(exc.code, exc.code)) from exc


def sender_choices(row: InboundMessage) -> list[User]:
    """The accounts an operator chooses from when the sender's address names several."""
    users = _active_users(row.sender) if row.sender else []
    return users if len(users) > 1 else []


def _chosen_sender(
    parsed: ParsedMail, sender_address: str, sender_id: int | str | None
) -> tuple[User | None, str]:
    """(account or None, address) of the sender an operator opens a request for."""
    address = (sender_address or "").strip().lower()
    if address:
        try:
            validate_email(address)
        except ValidationError as exc:
            raise TriageError(_("Enter a valid e-mail address for the sender.")) from exc
    else:
        address = parsed.from_address if "@" in parsed.from_address else ""
    if not address:
        raise TriageError(
            _("The message has no usable sender address; enter the sender's address.")
        )
    users = _active_users(address)
    if sender_id:
        chosen = next((u for u in users if str(u.pk) == str(sender_id)), None)
        if chosen is None:
            raise TriageError(_("Choose one of the accounts with the sender's address."))
        return chosen, address
    if len(users) > 1:
        raise TriageError(
            _("Several accounts have the address %(address)s; choose the sender.")
            % {"address": address}
        )
    return (users[0] if users else None), address


@transaction.atomic
def triage_open(
    *,
    row: InboundMessage,
    actor: User,
    organisation: Organisation,
    category: str,
    sender_address: str = "",
    sender_id: int | str | None = None,
) -> Ticket:
    """Open a request from held mail; the sender becomes a contact of the organisation.

    The sender is the message's From address, unless the operator enters another
    address (a gateway's unreadable From) or picks one of several accounts that share
    the address (``sender_id``).
    """
    row = InboundMessage.objects.select_for_update().get(pk=row.pk)
    _check_triage(row, actor)
    if not PermSet(actor).sees_organisation(organisation.pk):
        raise PermissionDenied(_("You may not file requests for this organisation."))
    parsed = _reparse(row)
    sender, address = _chosen_sender(parsed, sender_address, sender_id)
    if sender is not None and PermSet(sender).is_agent:
        raise TriageError(
            _("The sender is a staff member; file the request for the customer instead.")
        )
    if sender is None:
        sender = _register(parsed, organisation, address)
    memberships = Membership.objects.with_scopes_disabled().filter(user=sender)
    if not memberships.filter(organisation=organisation).exists():
        if memberships.exists():
            # Never re-home a person of another customer by filing their mail here.
            raise TriageError(
                _(
                    "This address belongs to an existing account outside this customer; "
                    "ask an administrator to add it."
                )
            )
        Membership.objects.create(user=sender, organisation=organisation, role=Role.CUSTOMER)
    text, quoted = _body(parsed)
    ticket = services.open_ticket(
        actor=actor,
        reporter=sender,
        organisation=organisation,
        subject=parsed.subject or _("(no subject)"),
        description=text,
        category=category,
        channel=Channel.EMAIL,
        attachments=_uploads(row, parsed),
        quoted=quoted,
        html=parsed.html,
    )
    row.ticket, row.organisation = ticket, organisation
    row.ticket_message = services.first_message(ticket)
    _resolve(row, actor, Outcome.TICKET)
    return ticket


@transaction.atomic
def triage_append(*, row: InboundMessage, actor: User, ticket: Ticket) -> Ticket:
    """Add held mail to a request: as the sender's reply if they may write, else as a note."""
    row = InboundMessage.objects.select_for_update().get(pk=row.pk)
    _check_triage(row, actor)
    if not PermSet(actor).may_view_ticket(ticket):
        raise PermissionDenied(_("You may not add mail to this request."))
    parsed = _reparse(row)
    try:
        sender = _sender(parsed.from_address) if parsed.from_address else None
    except AmbiguousSender:
        sender = None  # added as a note: no account is picked by guesswork
    text, quoted = _body(parsed)
    uploads = _uploads(row, parsed)
    if _may_write(sender, ticket):
        message = services.reply(
            ticket=ticket,
            actor=sender,
            body=text,
            channel=Channel.EMAIL,
            attachments=uploads,
            quoted=quoted,
            html=parsed.html,
        )
    else:
        header = _("E-mail from %(sender)s, added by %(agent)s:") % {
            "sender": parsed.from_address or "?",
            "agent": actor.display_name,
        }
        message = services.reply(
            ticket=ticket,
            actor=actor,
            body=f"{header}\n\n{text}",
            internal=True,
            channel=Channel.EMAIL,
            attachments=uploads,
            quoted=quoted,
        )
    row.ticket, row.organisation_id, row.ticket_message = ticket, ticket.organisation_id, message
    _resolve(row, actor, Outcome.REPLY)
    return ticket


@transaction.atomic
def triage_discard(*, row: InboundMessage, actor: User, reason: str) -> None:
    row = InboundMessage.objects.select_for_update().get(pk=row.pk)
    _check_triage(row, actor)
    if not reason.strip():
        raise TriageError(_("Please give a reason for discarding the message."))
    row.detail = (row.detail + "\n" + reason.strip()).strip()
    _resolve(row, actor, Outcome.DISCARDED)


def _check_triage(row: InboundMessage, actor: User) -> None:
    if not PermSet(actor).has("mail.triage_mail"):
        raise PermissionDenied(_("You may not handle mail in triage."))
    if row.outcome not in (Outcome.TRIAGE, Outcome.REJECTED):
        raise TriageError(_("This message was already handled."))


def _resolve(row: InboundMessage, actor: User, outcome: str) -> None:
    row.outcome = outcome
    row.resolved_at = timezone.now()
    row.resolved_by = actor
    row.save()
