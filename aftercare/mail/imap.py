"""Polling IMAP mailboxes. A message is marked read (or moved) only after it is stored.

The order — fetch with ``BODY.PEEK[]`` (which leaves the message unread), ingest and
commit, then flag — means a crash at any point leaves the message unread on the server,
and the next run's de-duplication makes sure it is stored exactly once.
"""

from __future__ import annotations

import logging
import ssl

from django.db import InterfaceError, OperationalError
from django.utils import timezone
from imap_tools import AND, MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessageFlags

from aftercare.lib import faults
from aftercare.mail.ingest import ingest, intake_batch
from aftercare.mail.models import Mailbox
from aftercare.ops import maintenance

log = logging.getLogger(__name__)
TIMEOUT = 60


def connect(mailbox: Mailbox):
    if mailbox.security == Mailbox.Security.SSL:
        box = MailBox(
            mailbox.host, mailbox.port, timeout=TIMEOUT, ssl_context=ssl.create_default_context()
        )
    elif mailbox.security == Mailbox.Security.STARTTLS:
        box = MailBoxStartTls(
            mailbox.host, mailbox.port, timeout=TIMEOUT, ssl_context=ssl.create_default_context()
        )
    else:
        box = MailBoxUnencrypted(mailbox.host, mailbox.port, timeout=TIMEOUT)
    try:
        return box.login(mailbox.username, mailbox.password, initial_folder=mailbox.folder)
    except Exception:
        try:
            box.client.shutdown()  # a refused login must not leave the connection open
        except OSError:
            log.debug("closing a refused IMAP connection failed", exc_info=True)
        raise


def _raw(box, uid: str) -> bytes | None:
    typ, data = box.client.uid("FETCH", uid, "(BODY.PEEK[])")
    if typ != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def fetch_mailbox(mailbox: Mailbox, limit: int | None = None) -> dict[str, int]:
    """Read unread mail from one mailbox; returns counts by outcome (and ``duplicate``)."""
    counts: dict[str, int] = {}
    if maintenance.skip_job(f"fetching {mailbox.name}"):
        return counts  # mail stays unread on the server; the first run after "off" reads it
    now = timezone.now()
    Mailbox.objects.filter(pk=mailbox.pk).update(last_fetch_at=now)
    try:
        with connect(mailbox) as box:
            uids = box.uids(AND(seen=False))
            # One fetch is one batch: its messages share the intake's look-ups (mailboxes,
            # senders, organisations), each is still stored in its own transaction and
            # flagged right after it.
            with intake_batch(mailbox):
                for uid in uids[: limit or mailbox.batch_size]:
                    raw = _raw(box, uid)
                    if raw is None:
                        continue
                    result = ingest(raw, mailbox=mailbox, source=f"imap:{mailbox.name}")
                    faults.point("mail.after_store")
                    key = result.outcome if result.created else "duplicate"
                    counts[key] = counts.get(key, 0) + 1
                    if mailbox.processed_folder:
                        box.move(uid, mailbox.processed_folder)
                    else:
                        box.flag(uid, MailMessageFlags.SEEN, True)
    except maintenance.MaintenanceError:
        log.info("fetching %s stopped: maintenance mode switched on", mailbox.name)
        return counts  # the message being read was neither stored nor flagged
    except (OperationalError, InterfaceError) as exc:
        _failed(mailbox, f"database unavailable: {exc}")
        raise
    except Exception as exc:  # noqa: BLE001 - network, login, protocol: record, retry next run
        _failed(mailbox, f"{type(exc).__name__}: {exc}")
        log.warning("fetching %s failed: %s", mailbox.name, exc)
        counts["error"] = 1
        return counts
    Mailbox.objects.filter(pk=mailbox.pk).update(last_success_at=timezone.now(), last_error="")
    return counts


def _failed(mailbox: Mailbox, message: str) -> None:
    try:
        Mailbox.objects.filter(pk=mailbox.pk).update(last_error=message[:2000])
    except (OperationalError, InterfaceError):
        log.error("fetching %s failed and the database is unavailable: %s", mailbox.name, message)


def fetch_all() -> dict[str, dict[str, int]]:
    return {mb.name: fetch_mailbox(mb) for mb in Mailbox.objects.filter(is_active=True)}
