"""Retention: the newest archive of each recent day and ISO week, and the daily job."""

from __future__ import annotations

import datetime as dt

import pytest

from aftercare.ops import archive as fmt
from aftercare.ops.retention import choose_kept, prune


def _at(day: int, hour: int = 2, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 30, tzinfo=dt.UTC)


def _named(*moments: dt.datetime) -> list[tuple[str, dt.datetime]]:
    return [(fmt.archive_name(m), m) for m in moments]


def test_it_keeps_the_newest_archive_of_each_of_the_last_n_days():
    archives = _named(*(_at(d) for d in range(1, 21)))  # Nov 1 .. Nov 20, one a day
    kept = choose_kept(archives, keep_daily=7, keep_weekly=0)
    assert kept == {fmt.archive_name(_at(d)) for d in range(14, 21)}


def test_it_keeps_the_newest_of_each_iso_week_besides():
    archives = _named(*(_at(d) for d in range(1, 31)))  # November 2026
    kept = choose_kept(archives, keep_daily=7, keep_weekly=4)
    daily = {fmt.archive_name(_at(d)) for d in range(24, 31)}
    # Newest of each of the last four ISO weeks: Mon Nov 30 (week 49 so far), Sundays
    # Nov 29, 22 and 15.
    weekly = {fmt.archive_name(_at(d)) for d in (30, 29, 22, 15)}
    assert kept == daily | weekly
    assert len(kept) == 9


def test_several_archives_on_one_day_count_once_and_the_newest_wins():
    archives = _named(_at(20, 2), _at(20, 14), _at(19, 2), _at(19, 23), _at(18, 2))
    kept = choose_kept(archives, keep_daily=2, keep_weekly=0)
    assert kept == {fmt.archive_name(_at(20, 14)), fmt.archive_name(_at(19, 23))}


def test_gaps_do_not_cost_backups_and_the_newest_always_stays():
    archives = _named(_at(1), _at(10, month=10), _at(3, month=9))
    assert choose_kept(archives, keep_daily=2, keep_weekly=0) == {
        fmt.archive_name(_at(1)),
        fmt.archive_name(_at(10, month=10)),
    }
    assert choose_kept(archives, keep_daily=0, keep_weekly=0) == {fmt.archive_name(_at(1))}
    assert choose_kept([], keep_daily=7, keep_weekly=4) == set()


def test_weeks_cross_the_year_end():
    jan = dt.datetime(2027, 1, 2, 2, 30, tzinfo=dt.UTC)  # Saturday of ISO week 2026-W53
    dec = dt.datetime(2026, 12, 28, 2, 30, tzinfo=dt.UTC)  # Monday of the same week
    earlier = dt.datetime(2026, 12, 20, 2, 30, tzinfo=dt.UTC)  # ISO week 51
    kept = choose_kept(_named(jan, dec, earlier), keep_daily=0, keep_weekly=2)
    assert kept == {fmt.archive_name(jan), fmt.archive_name(earlier)}


def test_prune_deletes_only_our_archives_that_are_not_kept(tmp_path):
    for day in range(1, 15):
        (tmp_path / fmt.archive_name(_at(day))).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "aftercare-backup-20261101T023000Z.tar.gz.partial").write_bytes(b"x")
    removed = prune(tmp_path, keep_daily=3, keep_weekly=2)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert "notes.txt" in left and any(n.endswith(".partial") for n in left)
    archives = [n for n in left if fmt.archive_time(n)]
    # Days 12-14, plus the newest of ISO week 45 (Nov 2-8): Nov 8.
    assert archives == [fmt.archive_name(_at(d)) for d in (8, 12, 13, 14)]
    assert len(removed) == 10


@pytest.mark.django_db(transaction=True)
def test_the_daily_job_writes_an_archive_and_applies_retention(settings, tmp_path, owner, org):
    from aftercare.ops.tasks import backup_periodic, run_backup

    settings.AFTERCARE_BACKUP_DIR = tmp_path
    settings.AFTERCARE_BACKUP_KEEP_DAILY = 2
    settings.AFTERCARE_BACKUP_KEEP_WEEKLY = 0
    old = [tmp_path / fmt.archive_name(_at(d, month=1)) for d in (1, 2, 3)]
    for path in old:
        path.write_bytes(b"old")
    result = run_backup()
    assert (tmp_path / result["archive"]).is_file()
    assert sorted(result["removed"]) == [old[0].name, old[1].name]
    assert old[2].exists()
    # The periodic task is scheduled from AFTERCARE_BACKUP_CRON (02:30 by default).
    task = backup_periodic.task_class()
    assert task.validate_datetime(dt.datetime(2026, 11, 26, 2, 30))
    assert not task.validate_datetime(dt.datetime(2026, 11, 26, 2, 31))
