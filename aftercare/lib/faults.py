"""Fail points for fault tests: ``AFTERCARE_FAULTS="mail.after_store=3"`` kills the process
(SIGKILL, no clean-up) the third time execution passes ``point("mail.after_store")``.

Unset (always, outside tests) this costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def _plan() -> dict[str, int]:
    spec = os.environ.get("AFTERCARE_FAULTS", "")
    plan = {}
    for item in spec.split(","):
        name, _sep, count = item.strip().partition("=")
        if name:
            plan[name] = int(count or 1)
    return plan


def point(name: str) -> None:
    if "AFTERCARE_FAULTS" not in os.environ:
        return
    wanted = _plan().get(name)
    if wanted is None:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= wanted:
        os.kill(os.getpid(), signal.SIGKILL)
