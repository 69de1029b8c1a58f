"""Which backup archives to keep: the newest per day for N days, per ISO week for M weeks.

Pure (no files, no clock) so it is tested with plain dates; ``prune`` applies it to a
folder and only ever touches files named like our archives.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from pathlib import Path

from aftercare.ops import archive as fmt

log = logging.getLogger(__name__)


def choose_kept(
    archives: Iterable[tuple[str, dt.datetime]], *, keep_daily: int, keep_weekly: int
) -> set[str]:
    """Names to keep among ``(name, taken_at)``.

    Daily: the newest archive of each of the ``keep_daily`` most recent days that have
    one. Weekly: the newest archive of each of the ``keep_weekly`` most recent ISO weeks
    that have one. The newest archive overall is always kept (even with 0 and 0), so a
    mistaken setting can never delete the last backup.
    """
    items = sorted(archives, key=lambda item: (item[1], item[0]), reverse=True)
    if not items:
        return set()
    kept = {items[0][0]}
    days: dict[dt.date, str] = {}
    weeks: dict[tuple[int, int], str] = {}
    for name, taken in items:  # newest first: the first seen per bucket is its newest
        days.setdefault(taken.date(), name)
        weeks.setdefault(tuple(taken.isocalendar())[:2], name)
    kept.update(list(days.values())[:keep_daily])
    kept.update(list(weeks.values())[:keep_weekly])
    return kept


def prune(folder: Path, *, keep_daily: int, keep_weekly: int) -> list[Path]:
    """Delete archives in ``folder`` that ``choose_kept`` does not keep; return them."""
    found = []
    for path in folder.iterdir():
        taken = fmt.archive_time(path.name)
        if taken is not None and path.is_file():
            found.append((path.name, taken))
    kept = choose_kept(found, keep_daily=keep_daily, keep_weekly=keep_weekly)
    removed = []
    for name, _taken in found:
        if name not in kept:
            (folder / name).unlink()
            removed.append(folder / name)
            log.info("backup retention: removed %s", name)
    return removed
