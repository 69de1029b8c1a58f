"""Retrying what failed: background jobs, outgoing mail, inbound mail, webhook deliveries.

Each retry hands the work back to the code that owns it (Huey with the job's original
arguments, ``mail.outbound.retry``, the intake's routing, ``webhooks.delivery.retry``),
so a retried item obeys exactly the rules of a first attempt.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from huey.exceptions import HueyException

from aftercare.mail import ingest
from aftercare.mail.models import InboundMessage, OutboundMail
from aftercare.monitoring import context, jobs
from aftercare.monitoring.models import FailedJob
from aftercare.webhooks import delivery
from aftercare.webhooks.models import Delivery

log = logging.getLogger(__name__)


class RetryError(Exception):
    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


def retry_job(job: FailedJob) -> None:
    """Enqueue the job again with its original arguments (after this transaction commits).

    The new run carries this row's id: its failure updates the row, its success resolves it.
    """
    if job.resolved:
        raise RetryError(_("This job is already resolved."))
    if not job.replayable:
        raise RetryError(_("This job's arguments cannot be replayed; run it by hand."))
    h = jobs.huey()
    try:
        task_class = h._registry.string_to_task(job.task_name)
    except HueyException:
        raise RetryError(
            _("The task %(name)s no longer exists.") % {"name": job.task_name}
        ) from None
    meta = {"failed_job": job.pk, "request_id": context.current_request_id()}
    task = task_class(args=tuple(job.args), kwargs={**job.kwargs, jobs.KEY: meta})
    FailedJob.objects.filter(pk=job.pk).update(retried_at=timezone.now(), will_retry=False)
    transaction.on_commit(lambda: h.enqueue(task))


def resolve_job(job: FailedJob) -> None:
    """Mark a job handled without running it (fixed by hand, or no longer needed)."""
    FailedJob.objects.filter(pk=job.pk, resolved=False).update(
        resolved=True, resolved_at=timezone.now(), will_retry=False
    )


def retry_outbound(row: OutboundMail) -> None:
    if row.state != OutboundMail.State.FAILED:
        raise RetryError(_("This message has not failed."))
    from aftercare.mail import outbound

    outbound.retry(row)


def retry_webhook(row: Delivery) -> None:
    if not delivery.retry([row]):
        raise RetryError(_("This delivery has not failed."))


@transaction.atomic
def retry_inbound(row: InboundMessage) -> str:
    """Process a rejected message again from its stored raw copy; returns the new outcome.

    The message keeps its ledger row (its Message-ID and hash are what make intake
    exactly-once), so this runs the intake's parsing and routing on that row rather than
    storing a second one. Typical use: a limit was raised, a sender's daily cap reset, or
    the bug behind ``processing_failed`` was fixed.
    """
    row = InboundMessage.objects.select_for_update().get(pk=row.pk)
    if row.outcome != InboundMessage.Outcome.REJECTED or row.resolved_at is not None:
        raise RetryError(_("This message is not waiting as rejected."))
    if not row.raw:
        raise RetryError(_("The original message is not stored."))
    with row.raw.open("rb") as fh:
        raw = fh.read()
    return ingest.reprocess(row, raw)
