"""Feed raw mail to the intake: one message on stdin (an MTA pipe), or files and folders.

    aftercare ingest-mail < message.eml            # e.g. from Postfix: "| aftercare ingest-mail"
    aftercare ingest-mail old-mail/ archive.mbox   # .eml files, mbox files, folders of them

Exit status 75 (EX_TEMPFAIL) when the database is unavailable or read-only maintenance
mode is on, so an MTA keeps the message and retries later. In maintenance mode the message
(stdin) is read and then refused before anything is stored; files are not even opened.
"""

from __future__ import annotations

import sys
from itertools import islice
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import InterfaceError, OperationalError

from aftercare.mail.ingest import BATCH_SIZE, ingest, intake_batch
from aftercare.mail.parsing import iter_mbox
from aftercare.ops import maintenance
from aftercare.ops.maintenance import MaintenanceError
from aftercare.tenancy.scoping import system_scope

EX_TEMPFAIL = maintenance.EXIT_MAINTENANCE  # 75: the MTA keeps the message, retries


def _messages(path: Path):
    """(label, raw bytes) for a file or every mail file under a folder."""
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            yield from _messages(child)
        return
    data = path.read_bytes()
    if path.suffix.lower() in (".mbox", ".mbx") or data.startswith(b"From "):
        for index, raw in enumerate(iter_mbox(data), 1):
            yield f"{path}#{index}", raw
    else:
        yield str(path), data


def _chunks(items, size: int):
    items = iter(items)
    while chunk := list(islice(items, size)):
        yield chunk


class Command(BaseCommand):
    help = "Ingest raw e-mail from stdin, or from .eml / mbox files and folders."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", help="Files or folders; none or '-' reads stdin.")

    def handle(self, *args, paths: list[str], verbosity: int, **options):
        sources = []
        if not paths or paths == ["-"]:
            sources.append(("stdin", sys.stdin.buffer.read()))
        else:
            for name in paths:
                path = Path(name)
                if not path.exists():
                    raise CommandError(f"{name}: no such file or folder")
                sources.append((name, path))
        counts: dict[str, int] = {}
        try:
            maintenance.refuse_writes("ingest-mail")
            with system_scope():
                for label, item in sources:
                    pairs = [(label, item)] if isinstance(item, bytes) else _messages(item)
                    # The messages of a file share the intake's look-ups (``intake_batch``),
                    # a fresh set every BATCH_SIZE messages.
                    for chunk in _chunks(pairs, BATCH_SIZE):
                        with intake_batch():
                            for one_label, raw in chunk:
                                result = ingest(raw, source=f"file:{one_label}"[:255])
                                key = result.outcome if result.created else "duplicate"
                                counts[key] = counts.get(key, 0) + 1
                                if verbosity > 1:
                                    row = result.inbound
                                    number = row.ticket.number if row.ticket_id else "-"
                                    self.stdout.write(f"{one_label}: {key} {row.reason} {number}")
        except (OperationalError, InterfaceError) as exc:
            self.stderr.write(f"database unavailable, try again later: {exc}")
            sys.exit(EX_TEMPFAIL)
        except maintenance.MaintenanceRefused as exc:
            self.stderr.write(f"{exc} Try again later.")
            sys.exit(EX_TEMPFAIL)
        except MaintenanceError as exc:  # switched on while messages were being ingested
            self.stderr.write(f"{exc} Try again later.")
            sys.exit(EX_TEMPFAIL)
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "nothing"
        self.stdout.write(summary)
