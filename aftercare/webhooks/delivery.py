"""Posting webhook deliveries: signed, pinned to the vetted address, bounded, retried.

``deliver_due()`` claims each due row with a conditional UPDATE (queued → sending), so
two workers never post one row twice; a worker killed mid-post leaves its row "sending",
and the next sweep puts it back after ``STALE_AFTER``. A 2xx answer is success; anything
else (another status, a redirect, which is never followed, a timeout, a refused
connection, a TLS error) is retried after 1, 2, 4 … minutes (capped) until
``AFTERCARE_WEBHOOKS_ATTEMPTS`` attempts have been made. A target that fails the SSRF
check at delivery time is not contacted and not retried.

A subscription counts deliveries that ended failed in a row; any success resets the
count, and at ``AFTERCARE_WEBHOOKS_DISABLE_AFTER`` it is disabled with the reason
recorded. Counting finished deliveries, not attempts, means a receiver that is down for
an hour's maintenance with fifty events in flight is not disabled: those deliveries
succeed on a later attempt. While a subscription is disabled its queued deliveries wait;
re-enabling it sends them.

Time: connecting and each read wait at most ``AFTERCARE_WEBHOOKS_TIMEOUT`` seconds, and a
watchdog cuts the whole exchange after twice that, so a receiver that drips one byte at a
time cannot hold a worker (glpi#20903).

Logs name the subscription and the delivery, never the URL: chat services and the like put
their own secret into the URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.lib import faults
from aftercare.webhooks import targets
from aftercare.webhooks.models import Delivery, Subscription

log = logging.getLogger(__name__)

EXCERPT_BYTES = 2048
STALE_AFTER = timedelta(minutes=15)
USER_AGENT = "Aftercare-Webhooks/1.0"


# -- signing ----------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``timestamp + "." + body`` (see docs/webhooks.md)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def headers_for(row: Delivery, body: bytes, timestamp: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": f"{USER_AGENT} (+{settings.AFTERCARE_BASE_URL})",
        "X-Aftercare-Event": row.event,
        "X-Aftercare-Delivery": str(row.uuid),
        "X-Aftercare-Timestamp": timestamp,
        "X-Aftercare-Signature": "sha256=" + signature(row.subscription.secret, timestamp, body),
        "Connection": "close",
    }


# -- HTTP, pinned to the checked address -----------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    excerpt: str
    location: str


def _ssl_context() -> ssl.SSLContext:
    """Certificates are verified against the host *name* (tests substitute a test CA)."""
    return ssl.create_default_context()


def _connect(address: targets.Address, timeout: float) -> socket.socket:
    sock = socket.socket(address.family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(address.sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to ``address``; ``host`` is used only for the Host header."""

    def __init__(self, target: targets.Target, address: targets.Address, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = _connect(self._address, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to ``address``; ``host`` is the Host header, the SNI and the name checked
    against the certificate."""

    def __init__(self, target: targets.Target, address: targets.Address, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=_ssl_context())
        self._address = address

    def connect(self) -> None:
        sock = _connect(self._address, self.timeout)
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class _Watchdog:
    """Shuts the socket down when the whole exchange takes longer than ``seconds``."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self.fired = False
        self._sock = sock
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        # The plain socket's shutdown, also under TLS: it unblocks the reading thread.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()


def _exchange(
    conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict, timeout: float
) -> Response:
    """Send the request and read the status; the body only for the log (2 kB at most)."""
    late = TimeoutError(_("no complete answer within %(s)s s") % {"s": 2 * timeout})
    assert conn.sock is not None
    with _Watchdog(conn.sock, 2 * timeout) as watchdog:
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException):
            if watchdog.fired:
                raise late from None
            raise
        try:  # from here the response owns the socket (the server said "close")
            if watchdog.fired:  # cut off in the headers, which then looked complete
                raise late
            try:
                excerpt = response.read(EXCERPT_BYTES).decode("utf-8", "replace")
            except (OSError, http.client.HTTPException) as exc:
                excerpt = _("(the answer's body could not be read: %(error)s)") % {"error": exc}
            if watchdog.fired:
                excerpt += "\n" + _("(cut off after %(s)s s)") % {"s": 2 * timeout}
            return Response(
                status=response.status,
                excerpt=excerpt,
                location=response.getheader("Location", "") or "",
            )
        finally:
            response.close()


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Response:
    """POST ``body`` to ``url`` after the SSRF check, connecting to a checked address.

    Raises ``targets.UnsafeTarget`` (refused, nothing sent), ``targets.Unresolvable``,
    ``TimeoutError`` or another ``OSError``/``http.client.HTTPException``.
    """
    target = targets.parse(url)
    addresses = targets.vet(target)
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    error: Exception | None = None
    for address in addresses:  # every one was checked; try them in the resolver's order
        conn = kind(target, address, timeout)
        try:
            try:
                conn.connect()
            except OSError as exc:
                error = exc
                continue
            return _exchange(conn, target.path, body, headers, timeout)
        finally:
            conn.close()
    assert error is not None
    raise error


# -- the outbox ------------------------------------------------------------------------


def _describe(exc: Exception) -> str:
    if isinstance(exc, TimeoutError):
        return _("Timed out (%(error)s)") % {"error": str(exc) or _("no answer")}
    if isinstance(exc, targets.Unresolvable):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def deliver_due(limit: int = 100) -> dict[str, int]:
    """Post due deliveries; safe to run in several workers at once."""
    now = timezone.now()
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    Delivery.objects.filter(state=Delivery.State.SENDING, claimed_at__lt=now - STALE_AFTER).update(
        state=Delivery.State.QUEUED, claimed_at=None
    )
    due = list(
        Delivery.objects.filter(
            state=Delivery.State.QUEUED, next_attempt_at__lte=now, subscription__active=True
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        outcome = deliver_one(pk)
        if outcome:
            counts[outcome] += 1
    return counts


def deliver_one(pk: int) -> str | None:
    """Claim and post one delivery; None if another worker has it or it is not due."""
    now = timezone.now()
    # Only the row's own columns in this WHERE: a condition on a joined table makes Django
    # write ``id IN (SELECT …)``, whose result PostgreSQL does not re-check after waiting
    # for a concurrent claim, and both workers would then post the row.
    claimed = Delivery.objects.filter(
        pk=pk, state=Delivery.State.QUEUED, next_attempt_at__lte=now
    ).update(state=Delivery.State.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return None
    faults.point("webhooks.after_claim")  # docs/faults.md
    row = Delivery.objects.select_related("subscription").get(pk=pk)
    if not row.subscription.active:  # disabled meanwhile: the row waits for re-enabling
        Delivery.objects.filter(pk=pk, state=Delivery.State.SENDING).update(
            state=Delivery.State.QUEUED, claimed_at=None, attempts=F("attempts") - 1
        )
        return None
    body = row.payload.encode()
    timestamp = str(int(time.time()))
    timeout = float(settings.AFTERCARE_WEBHOOKS_TIMEOUT)
    started = time.monotonic()
    try:
        response = post(
            row.subscription.target_url,
            body,
            headers_for(row, body, timestamp),
            timeout=timeout,
        )
    except targets.UnsafeTarget as exc:
        return _refused(row, exc, started)
    except Exception as exc:  # noqa: BLE001 - network, TLS, DNS, protocol: all are retried
        return _failed(row, _describe(exc), started)
    if 200 <= response.status < 300:
        _delivered(row, response, started)
        return "delivered"
    error = _("HTTP %(status)s") % {"status": response.status}
    if 300 <= response.status < 400:
        error += "; " + _("redirect to %(location)s not followed") % {
            "location": response.location or "?"
        }
    return _failed(row, error, started, response=response)


def _ms(started: float) -> int:
    return max(0, round((time.monotonic() - started) * 1000))


def _delivered(row: Delivery, response: Response, started: float) -> None:
    Delivery.objects.filter(pk=row.pk).update(
        state=Delivery.State.DELIVERED,
        delivered_at=timezone.now(),
        last_status_code=response.status,
        response_excerpt=response.excerpt,
        error="",
        duration_ms=_ms(started),
    )
    Subscription.objects.filter(pk=row.subscription_id, failure_count__gt=0).update(failure_count=0)


def _failed(row: Delivery, error: str, started: float, response: Response | None = None) -> str:
    fields = {
        "last_status_code": response.status if response else None,
        "response_excerpt": response.excerpt if response else "",
        "error": error[:2000],
        "duration_ms": _ms(started),
    }
    if row.attempts >= settings.AFTERCARE_WEBHOOKS_ATTEMPTS:
        Delivery.objects.filter(pk=row.pk).update(state=Delivery.State.FAILED, **fields)
        log.error(
            "webhook delivery %s to subscription %s failed after %d attempts: %s",
            row.uuid,
            row.subscription_id,
            row.attempts,
            error,
        )
        _count_failure(row.subscription, error)
        return "failed"
    minutes = min(2 ** (row.attempts - 1), settings.AFTERCARE_WEBHOOKS_MAX_BACKOFF_MINUTES)
    Delivery.objects.filter(pk=row.pk).update(
        state=Delivery.State.QUEUED,
        next_attempt_at=timezone.now() + timedelta(minutes=minutes),
        **fields,
    )
    log.warning(
        "webhook delivery %s to subscription %s failed (attempt %d), retrying in %d min: %s",
        row.uuid,
        row.subscription_id,
        row.attempts,
        minutes,
        error,
    )
    return "retry"


def _refused(row: Delivery, exc: targets.UnsafeTarget, started: float) -> str:
    """The SSRF check failed at delivery time: nothing was sent; no retry."""
    error = _("Refused: %(reason)s") % {"reason": exc}
    Delivery.objects.filter(pk=row.pk).update(
        state=Delivery.State.FAILED,
        last_status_code=None,
        response_excerpt="",
        error=error[:2000],
        duration_ms=_ms(started),
    )
    log.warning("webhook delivery %s refused: %s", row.uuid, exc)
    _count_failure(row.subscription, error)
    return "failed"


def _count_failure(subscription: Subscription, error: str) -> None:
    Subscription.objects.filter(pk=subscription.pk).update(failure_count=F("failure_count") + 1)
    count = (
        Subscription.objects.filter(pk=subscription.pk)
        .values_list("failure_count", flat=True)
        .first()
    )
    limit = settings.AFTERCARE_WEBHOOKS_DISABLE_AFTER
    if count is None or count < limit:
        return
    reason = _(
        "Disabled automatically after %(count)d consecutive failed deliveries. "
        "Last error: %(error)s"
    ) % {"count": count, "error": error}
    disabled = Subscription.objects.filter(pk=subscription.pk, active=True).update(
        active=False, disabled_at=timezone.now(), disabled_reason=reason[:500]
    )
    if disabled:
        log.error(
            "webhook subscription %s (%s) disabled after %d consecutive failed deliveries",
            subscription.pk,
            subscription.name,
            count,
        )


# -- administration ----------------------------------------------------------------------


def retry(deliveries) -> int:
    """Queue failed deliveries again, with a fresh set of attempts (admin action)."""
    pks = [d.pk for d in deliveries]
    count = Delivery.objects.filter(pk__in=pks, state=Delivery.State.FAILED).update(
        state=Delivery.State.QUEUED, attempts=0, next_attempt_at=timezone.now(), claimed_at=None
    )
    if count:
        transaction.on_commit(_kick)
    return count


def re_enable(subscription: Subscription) -> bool:
    """Turn a (disabled) subscription back on; its waiting deliveries are then sent."""
    changed = Subscription.objects.filter(pk=subscription.pk).update(
        active=True, disabled_at=None, disabled_reason="", failure_count=0
    )
    if changed:
        transaction.on_commit(_kick)
    return bool(changed)


def purge(now=None) -> int:
    """Forget finished deliveries older than ``AFTERCARE_WEBHOOKS_KEEP_DAYS``."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.AFTERCARE_WEBHOOKS_KEEP_DAYS)
    deleted, _by_model = Delivery.objects.filter(
        state__in=(Delivery.State.DELIVERED, Delivery.State.FAILED), created_at__lt=cutoff
    ).delete()
    return deleted


def _kick() -> None:
    from aftercare.webhooks.events import kick

    kick()
