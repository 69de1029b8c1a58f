"""Make a fresh bare database with ``--rows`` requests and a token; print JSON facts.

cd bench/bare && BARE_DATA_DIR=DIR python -m bareproj.setup --rows 100000
"""

import argparse
import hashlib
import json
import os
import secrets
from datetime import timedelta


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bareproj.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    from bareproj.models import Event, Message, Sequence, Ticket, Token

    settings.DATA.mkdir(parents=True, exist_ok=True)
    db = settings.DATA / "bare.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{db}{suffix}"):
            os.remove(f"{db}{suffix}")
    call_command("migrate", run_syncdb=True, verbosity=0)
    now = timezone.now()
    start = now - timedelta(days=730)
    step = timedelta(days=730) / max(args.rows, 1)
    batch = 5000
    for first in range(0, args.rows, batch):
        tickets = [
            Ticket(
                number=f"OLD-{i:07d}",
                organisation_id=1 + i % 30,
                reporter_id=1 + i % 300,
                subject=f"Seeded request {i}",
                description="Seeded. " * 20,
                category="incident",
                priority=3,
                status="done" if i % 5 else "backlog",
                created_at=start + step * i,
            )
            for i in range(first, min(first + batch, args.rows))
        ]
        Ticket.objects.bulk_create(tickets)
        saved = Ticket.objects.filter(number__in=[t.number for t in tickets]).values_list(
            "pk", "created_at"
        )
        Message.objects.bulk_create(
            [Message(ticket_id=pk, body="Seeded.", created_at=at) for pk, at in saved]
        )
        Event.objects.bulk_create(
            [Event(ticket_id=pk, action="created", created_at=at) for pk, at in saved]
        )
    Sequence.objects.create(year=now.year, last=0)
    secret = secrets.token_urlsafe(32)
    Token.objects.create(secret_hash=hashlib.sha256(secret.encode()).hexdigest(), organisation_id=1)
    print(json.dumps({"token": secret, "organisation": 1, "reporter": 1, "tickets": args.rows}))


if __name__ == "__main__":
    main()
