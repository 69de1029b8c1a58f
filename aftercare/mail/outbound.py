"""Outgoing mail: render a notification in the recipient's language, queue it, send it.

``queue()`` writes an ``OutboundMail`` row inside the caller's transaction (so a change and
its notifications commit or roll back together) and asks the worker to send once the
transaction commits. ``send_due()`` claims rows with a conditional update, so two workers
never send one row twice, and retries failures with exponential back-off.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import mimetypes
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet
from aftercare.desk.models import Ticket
from aftercare.lib import faults
from aftercare.mail.models import AddressStatus, InboundMessage, OutboundMail

log = logging.getLogger(__name__)

LOOP_HEADER = "X-Aftercare-Loop"
# Answers the system sends by itself to whoever wrote; capped per address and day.
AUTOMATIC_ANSWERS = ("received", "mail_rejected")


@dataclass(frozen=True)
class Kind:
    subject: str
    lead: str
    essential: bool = True
    for_agents: bool = False


# What each notification says. The subject always carries the request number.
KINDS: dict[str, Kind] = {
    "received": Kind(
        _("Request received"),
        _("We have registered your request. Reply to this message to add information."),
    ),
    "reply": Kind(_("New reply"), _("%(author)s replied to your request:")),
    "status": Kind(
        _("Status: %(status)s"), _("Your request is now “%(status)s”."), essential=False
    ),
    "waiting": Kind(
        _("Your input is needed"),
        _("We need information from you to go on. Please reply to this message."),
    ),
    "resolved": Kind(
        _("Resolved"),
        _("Your request has been resolved. It will be delivered with the next release."),
    ),
    "released": Kind(
        _("Released"),
        _(
            "The solution has been released. If you are not satisfied, reply or reopen the "
            "request in the portal within %(days)s days."
        ),
    ),
    "delivered": Kind(
        _("Released in %(product)s %(version)s"),
        _(
            "The solution was installed with %(product)s %(version)s on %(environment)s. "
            "If you are not satisfied, reply or reopen the request in the portal within "
            "%(days)s days. What changed in this release:"
        ),
    ),
    "rejected": Kind(_("Rejected"), _("Your request was rejected. Reason: %(reason)s")),
    "approval": Kind(
        _("Approval requested"),
        _("%(author)s asks for your approval before this action:"),
    ),
    "approval_approved": Kind(
        _("Approval granted"), _("%(author)s approved the action:"), for_agents=True
    ),
    "approval_declined": Kind(
        _("Approval declined"), _("%(author)s declined the action:"), for_agents=True
    ),
    "customer_reply": Kind(
        _("Customer replied"), _("%(author)s replied:"), essential=False, for_agents=True
    ),
    "assigned": Kind(
        _("Assigned to you"),
        _("This request was assigned to you."),
        essential=False,
        for_agents=True,
    ),
    "escalated": Kind(
        _("Escalated to L2"),
        _("This request was escalated to L2. Note: %(note)s"),
        essential=False,
        for_agents=True,
    ),
    "sla_warning": Kind(
        _("SLA deadline approaching"), _("%(metric)s is due at %(due)s."), for_agents=True
    ),
    "sla_breached": Kind(_("SLA breached"), _("%(metric)s was due at %(due)s."), for_agents=True),
    "mail_rejected": Kind(
        _("Your message could not be accepted"),
        _("Your message “%(subject)s” could not be accepted: %(reason)s"),
    ),
    "offer": Kind(_("Offer %(offer)s"), _("Please find attached our offer %(offer)s:")),
    # SaaS migrations (aftercare.saas.notify): no request behind them.
    "saas_quote": Kind(
        _("Quote request %(reference)s from %(company)s"),
        _("%(company)s asks for an offer for a SaaS migration (%(reference)s)."),
        for_agents=True,
    ),
    "saas_quote_received": Kind(
        _("Your quote request %(reference)s"),
        _("Thank you: we have received your request for a SaaS migration offer."),
    ),
    "saas_offer_confirmed": Kind(
        _("Offer %(offer)s confirmed"), _("%(author)s confirmed offer %(offer)s.")
    ),
    "saas_offer_declined": Kind(
        _("Offer %(offer)s declined"), _("%(author)s declined offer %(offer)s.")
    ),
    "saas_statement": Kind(
        _("Final statement %(invoice)s"),
        _("Please find attached the final statement %(invoice)s for %(reference)s."),
    ),
    "reopened": Kind(
        _("Reopened"), _("%(author)s reopened the request:"), essential=False, for_agents=True
    ),
    "mention": Kind(
        _("You were mentioned"), _("%(author)s mentioned you:"), essential=False, for_agents=True
    ),
    "followed": Kind(
        _("Added to a request"),
        _("%(author)s added you to this request; you will be told about its progress."),
        essential=False,
    ),
    "update_reply": Kind(_("New reply"), _("%(author)s replied:"), essential=False),
    "update_note": Kind(
        _("New internal note"),
        _("%(author)s added an internal note:"),
        essential=False,
        for_agents=True,
    ),
    "update_status": Kind(
        _("Status: %(status)s"), _("The request is now “%(status)s”."), essential=False
    ),
    "merged": Kind(
        _("Merged into %(survivor)s"),
        _(
            "This request was merged into %(survivor)s, which covers the same matter. "
            "Its messages and files were moved there; please follow that request."
        ),
    ),
    "merge_received": Kind(
        _("%(duplicate)s merged into this request"),
        _("Request %(duplicate)s was merged into this one; its messages are now here."),
        essential=False,
    ),
    # To an organisation's coordinators (tenancy.contacts.remind_missing_replacements).
    "contact_replacement": Kind(
        _("Please name a replacement for %(name)s"),
        _(
            "%(name)s left as a contact person of %(organisation)s on %(left_on)s. As agreed "
            "in the support regulation, please tell us within two working days who replaces "
            "them (the replacement was due by %(due)s): reply to this message with the "
            "name, role, e-mail and phone of the new contact person."
        ),
    ),
}


# -- identity of our mail ---------------------------------------------------------------


def thread_root(ticket: Ticket) -> str:
    return f"<{ticket.number}@{settings.AFTERCARE_MAIL_DOMAIN}>"


def new_message_id(ticket: Ticket | None) -> str:
    tag = ticket.number if ticket else "aftercare"
    return f"<{tag}.{uuid.uuid4().hex[:20]}@{settings.AFTERCARE_MAIL_DOMAIN}>"


def reply_token(number: str) -> str:
    """``AC-2026-000123.3f9a1c0b2e``: names a request and proves we wrote it."""
    sig = hmac.new(
        settings.SECRET_KEY.encode(), f"reply:{number}".encode(), hashlib.sha256
    ).hexdigest()
    return f"{number}.{sig[:10]}"


TOKEN_RE = re.compile(r"\b([A-Z]{1,16}-\d{4}-\d{6})\.([0-9a-f]{10})\b", re.IGNORECASE)


def numbers_from_tokens(text: str) -> list[str]:
    """Request numbers whose reply token in ``text`` verifies."""
    found = []
    for number, _sig in TOKEN_RE.findall(text or ""):
        number = number.upper()
        token = f"{number}.{_sig.lower()}"
        if hmac.compare_digest(reply_token(number), token) and number not in found:
            found.append(number)
    return found


# CR, LF and every other control character (C0, DEL, C1, line/paragraph separators):
# one of them in a header makes Django refuse the whole message (BadHeaderError) — or,
# written raw, starts a header of its own.
_HEADER_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]+")


def header_safe(value: str, limit: int = 998) -> str:
    """One header line: control characters and line breaks folded into single blanks."""
    return " ".join(_HEADER_BREAKS.sub(" ", str(value or "")).split())[:limit]


def support_address() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()


# -- queueing ---------------------------------------------------------------------------


def _language(user: User | None, ticket: Ticket | None) -> str:
    codes = dict(settings.LANGUAGES)
    for code in (
        getattr(user, "language", ""),
        ticket.organisation.language if ticket else "",
    ):
        if code in codes:
            return code
    return settings.LANGUAGE_CODE


def _link(ticket: Ticket | None, user: User | None) -> str:
    if ticket is None:
        return settings.AFTERCARE_BASE_URL + "/"
    from django.urls import reverse

    if user is not None and PermSet(user).is_agent:
        path = reverse("console:ticket", args=[ticket.number])
    else:
        path = reverse("portal:detail", args=[ticket.number])
    return settings.AFTERCARE_BASE_URL + path


def _threading(ticket: Ticket | None) -> tuple[str, str]:
    """``In-Reply-To`` and ``References`` that keep every mail of a request in one thread."""
    if ticket is None:
        return "", ""
    root = thread_root(ticket)
    inbound = list(
        InboundMessage.objects.filter(
            ticket=ticket,
            # the customer's own mail, not delivery reports or auto-replies about ours
            outcome__in=(InboundMessage.Outcome.TICKET, InboundMessage.Outcome.REPLY),
        )
        .exclude(message_id="")
        .order_by("received_at", "pk")
        .values_list("message_id", flat=True)
    )
    refs = [root] + [f"<{m}>" for m in inbound[:1]] + [f"<{m}>" for m in inbound[-1:]]
    refs = list(dict.fromkeys(refs))
    return refs[-1], " ".join(refs)


def _not_sendable(user: User | None, address: str, kind_name: str) -> str:
    kind = KINDS[kind_name]
    if not address:
        return "no address"
    if user is not None and not user.is_active:
        return "inactive user"
    if user is not None and not kind.essential and not user.optional_mail:
        return "opted out of optional mail"
    if AddressStatus.objects.filter(address=address.lower(), suppressed=True).exists():
        return "address bounced"
    if kind_name in AUTOMATIC_ANSWERS:
        since = timezone.now() - timedelta(days=1)
        cap = settings.AFTERCARE_MAIL_AUTOREPLY_DAILY_CAP
        sent = (
            OutboundMail.objects.annotate(address_lower=Lower("to_address"))
            .filter(
                address_lower=address.lower(), created_at__gte=since, kind__in=AUTOMATIC_ANSWERS
            )
            .exclude(state=OutboundMail.State.SUPPRESSED)
        )  # by the index ``outbound_address_day``
        if len(sent.values_list("pk", flat=True)[:cap]) >= cap:
            return "daily cap of automatic answers reached"
    return ""


def prepare(
    kind_name: str,
    *,
    key: str,
    ticket: Ticket | None = None,
    user: User | None = None,
    address: str = "",
    params: dict | None = None,
    body: str = "",
    extra: dict | None = None,
    not_before=None,
    language: str = "",
    attachment: str = "",
) -> OutboundMail | None:
    """Render one notification into an unsaved row (``save`` queues it), or None when
    its recipient may not see the request. Reads only: no lock is needed.

    ``language`` overrides the recipient's (for addresses without an account);
    ``attachment`` is the storage name of a file to send along."""
    kind = KINDS[kind_name]
    if ticket is not None and user is not None and not PermSet(user).may_view_ticket(ticket):
        # The last line of defence: whoever produced it, nobody is told about a request
        # they may not see (a restricted agent, a customer of another organisation).
        log.warning(
            "not queueing %s about %s to user %s: they may not see it",
            kind_name,
            ticket.number,
            user.pk,
        )
        return None
    address = (address or getattr(user, "email", "") or "").strip()
    language = language if language in dict(settings.LANGUAGES) else _language(user, ticket)
    params = dict(params or {})
    with translation.override(language):
        params.setdefault("days", settings.AFTERCARE_ARCHIVE_AFTER_DAYS)
        if ticket is not None:
            params.setdefault("status", ticket.get_status_display())
        subject_text = str(kind.subject) % params
        if ticket is not None:
            subject = f"[{ticket.number}] {subject_text}: {ticket.subject}"
        else:
            subject = subject_text
        context = {
            "kind": kind_name,
            "lead": str(kind.lead) % params,
            "body": body,
            "ticket": ticket,
            "recipient": user,
            "link": _link(ticket, user),
            "token": reply_token(ticket.number) if ticket else "",
            "essential": kind.essential,
            "profile_link": settings.AFTERCARE_BASE_URL + "/accounts/profile/",
            **(extra or {}),
        }
        text = render_to_string("mail/notify.txt", context)
        html = render_to_string("mail/notify.html", context)
    reason = _not_sendable(user, address, kind_name)
    row = OutboundMail(
        kind=kind_name,
        dedupe_key=key[:200],
        essential=kind.essential,
        recipient=user,
        to_address=address[:320],
        language=language,
        ticket=ticket,
        subject=header_safe(subject),
        body_text=text,
        body_html=html,
        message_id=new_message_id(ticket),
        state=OutboundMail.State.SUPPRESSED if reason else OutboundMail.State.QUEUED,
        last_error=reason,
        not_before=not_before or timezone.now(),
        attachment=attachment,
    )
    return row


def save(row: OutboundMail) -> OutboundMail | None:
    """Queue a row made by ``prepare``; its key makes it exactly-once (a repeat returns None)."""
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return None  # already queued by an earlier run of the same change
    if row.state == OutboundMail.State.QUEUED:
        transaction.on_commit(_kick)
    return row


def queue(kind_name: str, *, key: str, **kwargs) -> OutboundMail | None:
    """Queue one notification (``prepare``'s arguments); ``key`` makes it exactly-once (a
    repeat returns None)."""
    row = prepare(kind_name, key=key, **kwargs)
    return save(row) if row is not None else None


def _kick() -> None:
    from aftercare.mail.tasks import send_outbox

    try:
        send_outbox()
    except Exception:  # the periodic sweep sends it later
        log.warning("could not enqueue the outbox job", exc_info=True)


# -- sending ----------------------------------------------------------------------------

STALE_AFTER = timedelta(minutes=15)


def _message(row: OutboundMail, connection) -> EmailMultiAlternatives:
    from_name, from_addr = parseaddr(settings.DEFAULT_FROM_EMAIL)
    headers = {
        "Message-ID": header_safe(row.message_id),
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
        LOOP_HEADER: header_safe(settings.AFTERCARE_MAIL_DOMAIN),
    }
    if row.in_reply_to:
        headers["In-Reply-To"] = header_safe(row.in_reply_to)
    if row.references:
        headers["References"] = header_safe(row.references, 8000)
    if row.ticket_id:
        headers["X-Aftercare-Ticket"] = header_safe(row.ticket.number)
    msg = EmailMultiAlternatives(
        # Rows queued before subjects were cleaned, or edited since: cleaned again here.
        subject=header_safe(row.subject),
        body=row.body_text,
        from_email=formataddr((header_safe(from_name) or "Aftercare", from_addr)),
        to=[header_safe(row.to_address, 320)],
        headers=headers,
        connection=connection,
    )
    if row.body_html:
        msg.attach_alternative(row.body_html, "text/html")
    if row.attachment:
        name = row.attachment.name.rsplit("/", 1)[-1]
        with row.attachment.open("rb") as fh:
            msg.attach(name, fh.read(), mimetypes.guess_type(name)[0] or "application/octet-stream")
    return msg


def send_due(limit: int = 200) -> dict[str, int]:
    """Send queued mail that is due; safe to run in several workers at once."""
    now = timezone.now()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    # A worker killed while sending leaves its rows claimed; put them back after a while.
    OutboundMail.objects.filter(
        state=OutboundMail.State.SENDING, claimed_at__lt=now - STALE_AFTER
    ).update(state=OutboundMail.State.QUEUED)
    due = list(
        OutboundMail.objects.filter(state=OutboundMail.State.QUEUED, not_before__lte=now)
        .order_by("not_before", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not due:
        return counts
    connection = get_connection(fail_silently=False)
    try:
        for pk in due:
            claimed = OutboundMail.objects.filter(pk=pk, state=OutboundMail.State.QUEUED).update(
                state=OutboundMail.State.SENDING,
                claimed_at=timezone.now(),
                attempts=F("attempts") + 1,
            )
            if not claimed:
                continue  # another worker has it
            faults.point("mail.outbound.after_claim")  # docs/faults.md
            row = OutboundMail.objects.select_related("ticket").get(pk=pk)
            if row.ticket_id:
                # Threaded when sent, not when queued: the mail that opened the request
                # is stored after its receipt was queued (same transaction).
                row.in_reply_to, row.references = _threading(row.ticket)
                row.save(update_fields=["in_reply_to", "references"])
            try:
                _message(row, connection).send()
            except Exception as exc:  # noqa: BLE001 - SMTP, socket, TLS errors: all are retried
                _failed(row, exc)
                counts["failed" if row.state == OutboundMail.State.FAILED else "retry"] += 1
                connection.close()
                continue
            OutboundMail.objects.filter(pk=pk).update(
                state=OutboundMail.State.SENT, sent_at=timezone.now(), last_error=""
            )
            counts["sent"] += 1
    finally:
        try:
            connection.close()
        except Exception:  # closing a broken connection may fail too; nothing to keep
            log.debug("closing the SMTP connection failed", exc_info=True)
    return counts


def _failed(row: OutboundMail, exc: Exception) -> None:
    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if row.attempts >= settings.AFTERCARE_MAIL_SEND_ATTEMPTS:
        row.state = OutboundMail.State.FAILED
        log.error("giving up on mail %s to %s: %s", row.pk, row.to_address, row.last_error)
    else:
        row.state = OutboundMail.State.QUEUED
        row.not_before = timezone.now() + timedelta(minutes=2 ** (row.attempts - 1))
        log.warning("mail %s to %s failed, retrying: %s", row.pk, row.to_address, row.last_error)
    row.save(update_fields=["state", "last_error", "not_before"])


def retry(row: OutboundMail) -> None:
    """Send a failed mail again (from the console's mail log)."""
    OutboundMail.objects.filter(pk=row.pk, state=OutboundMail.State.FAILED).update(
        state=OutboundMail.State.QUEUED, not_before=timezone.now(), attempts=0
    )
    transaction.on_commit(_kick)
