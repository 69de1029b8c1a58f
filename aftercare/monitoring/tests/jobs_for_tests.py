"""Huey tasks used only by the tests (registered when a test imports this module)."""

from __future__ import annotations

import logging
from pathlib import Path

from huey.contrib.djhuey import db_task

from aftercare.monitoring import context

log = logging.getLogger("aftercare.monitoring.tests.jobs")


@db_task()
def say(word: str) -> str:
    log.info("the job says %s", word)
    return context.current_request_id()


@db_task()
def fail_until_marked(marker: str, *, note: str = "") -> str:
    """Fails while ``marker`` does not exist: a job whose cause gets fixed."""
    if not Path(marker).exists():
        raise RuntimeError(f"marker {Path(marker).name} missing ({note})")
    log.info("marker found")
    return "done"


@db_task(retries=1)
def fail_once_then_work(marker: str) -> str:
    path = Path(marker)
    if not path.exists():
        path.write_text("tried")
        raise RuntimeError("first attempt fails")
    return "second attempt works"


@db_task(retries=2)
def always_fail(n: int) -> None:
    raise ValueError(f"always fails ({n})")
