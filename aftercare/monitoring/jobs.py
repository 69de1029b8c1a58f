"""Huey hooks: the request id travels with a job, and every failed job is recorded.

How the id travels: when a task is enqueued while a request (or another job) is being
handled, the ``SIGNAL_ENQUEUED`` receiver adds one reserved keyword argument,
``_aftercare_context`` = ``{"request_id": …}``, to the task. It is part of the queued
message, so it survives the queue, the consumer and a restart; the ``pre_execute`` hook
takes it off again before the task function runs (task functions never see it) and
activates it for the task's log lines. No task module changes: ``transaction.on_commit``
+ ``task()`` calls stay exactly as they are.

Failures: ``SIGNAL_ERROR`` (and ``SIGNAL_TIMEOUT``) write a ``FailedJob``. A task with
Huey retries left is recorded once and updated by its later attempts (the row's id rides
along in the same context); its success, or the success of a retry from the failures page,
marks the row resolved.
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

from django.db import transaction
from django.utils import timezone
from huey import signals as S

from aftercare.monitoring import context

log = logging.getLogger(__name__)

KEY = "_aftercare_context"
HOOK = "aftercare_context"
_connected = False


def huey():
    from huey.contrib.djhuey import HUEY

    return HUEY


def task_name(task: Any) -> str:
    """Huey's registry key for a task (``module.function``)."""
    cls = type(task)
    return f"{cls.__module__}.{cls.__name__}"


def connect() -> None:
    """Install the hooks once per process (``MonitoringConfig.ready``)."""
    global _connected
    if _connected:
        return
    h = huey()
    h.signal(S.SIGNAL_ENQUEUED)(_on_enqueued)
    h.signal(S.SIGNAL_ERROR, S.SIGNAL_TIMEOUT)(_on_error)
    h.signal(S.SIGNAL_COMPLETE)(_on_complete)
    h.pre_execute(HOOK)(_pre_execute)
    h.post_execute(HOOK)(_post_execute)
    _connected = True


def _on_enqueued(signal: str, task: Any, *args: Any) -> None:
    kwargs = task.kwargs or {}
    if KEY in kwargs:
        return  # a retry from the failures page, or Huey re-queueing a failed attempt
    meta = getattr(task, "_aftercare", None)
    if not meta:
        request_id = context.current_request_id()
        if not request_id:
            return  # the scheduler's periodic runs: nothing to carry
        meta = {"request_id": request_id}
    task.kwargs = {**kwargs, KEY: meta}


def _pre_execute(task: Any) -> None:
    meta = (task.kwargs or {}).pop(KEY, None) or {}
    task._aftercare = meta
    ctx = context.Context(request_id=meta.get("request_id", ""), task=task_name(task))
    task._aftercare_token = context.activate(ctx)


def _post_execute(task: Any, value: Any, exception: BaseException | None) -> None:
    meta = getattr(task, "_aftercare", None)
    if exception is not None and task.retries and meta:
        # Huey runs this attempt again (maybe after a delay, from the schedule): put the
        # context back into the message so the next attempt carries it too.
        task.kwargs = {**(task.kwargs or {}), KEY: meta}
    token = getattr(task, "_aftercare_token", None)
    if token is not None:
        task._aftercare_token = None
        try:
            context.deactivate(token)
        except ValueError:  # activated in another context; nothing to restore there
            log.debug("task context token from another context", exc_info=True)


def _json_or_repr(args: Any, kwargs: Any) -> tuple[list, dict, bool]:
    try:
        return json.loads(json.dumps(list(args or ()))), json.loads(json.dumps(kwargs or {})), True
    except (TypeError, ValueError):
        return [repr(a) for a in args or ()], {k: repr(v) for k, v in (kwargs or {}).items()}, False


def _on_error(signal: str, task: Any, exc: BaseException | None = None) -> None:
    from aftercare.monitoring.models import FailedJob

    meta = getattr(task, "_aftercare", None)
    if meta is None:
        meta = task._aftercare = {}
    if exc is not None:
        error = f"{type(exc).__name__}: {exc}"
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    else:
        error, tb = "Timed out", ""
    args, kwargs, replayable = _json_or_repr(task.args, task.kwargs)
    values = {
        "task_name": task_name(task)[:255],
        "error": error[:10000],
        "traceback": tb[:50000],
        "will_retry": bool(task.retries),
        "failed_at": timezone.now(),
        "resolved": False,
        "resolved_at": None,
    }
    try:
        with transaction.atomic():
            job_pk = meta.get("failed_job")
            row = (
                FailedJob.objects.select_for_update().filter(pk=job_pk).first() if job_pk else None
            )
            if row is None:
                row = FailedJob.objects.create(
                    task_id=str(task.id)[:64],
                    args=args,
                    kwargs=kwargs,
                    replayable=replayable,
                    request_id=meta.get("request_id", "")[:128],
                    **values,
                )
                meta["failed_job"] = row.pk
            else:
                for name, value in values.items():
                    setattr(row, name, value)
                row.attempts += 1
                row.save()
    except Exception:  # the database may be what failed; the log line is all we can keep
        log.exception("could not record the failure of task %s (%s)", task_name(task), task.id)


def _on_complete(signal: str, task: Any) -> None:
    from aftercare.monitoring.models import FailedJob

    job_pk = (getattr(task, "_aftercare", None) or {}).get("failed_job")
    if not job_pk:
        return  # a task that never failed: no query
    try:
        FailedJob.objects.filter(pk=job_pk, resolved=False).update(
            resolved=True, resolved_at=timezone.now(), will_retry=False
        )
    except Exception:
        log.exception("could not mark failed job %s resolved", job_pk)
