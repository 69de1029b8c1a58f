"""The embedded job queue's SQLite file, without an fsync per enqueued job.

Huey's ``SqliteStorage`` leaves SQLite's default ``synchronous=FULL``: in WAL mode every
commit — one per enqueued job, so one per web request that changed something — waits for
the disk (milliseconds each, measured in ``docs/benchmarks.md``). ``NORMAL`` is what the
main database uses: still consistent after a crash or a power loss, only the last jobs
enqueued before a power loss may be lost. Every job the web processes enqueue after a
commit is also done by a periodic sweep (follow-ups, the mail outbox, webhook and chat
deliveries), so a lost job is late, never lost work.
"""

from __future__ import annotations

from huey.storage import SqliteStorage


class SqliteStorageNormalSync(SqliteStorage):
    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn
