"""Mail intake throughput: N generated messages, a third of them replies, through ``ingest``.

    .venv/bin/python bench/mail.py --messages 2000
    .venv/bin/python bench/mail.py --messages 2000 \\
        --database-url postgres://postgres@127.0.0.1:5432/aftercare_bench_mail
    # beside 100k existing requests: seed first, then --existing with the same database
    .venv/bin/python bench/seed.py --tickets 100000 --data-dir /tmp/bench-mail-100k
    .venv/bin/python bench/mail.py --existing --data-dir /tmp/bench-mail-100k --batch 50

A fresh database each run (SQLite under ``--data-dir``, default /tmp/aftercare-bench-mail;
or a PostgreSQL database whose name contains "bench", dropped and re-created), or with
``--existing`` the one ``bench/seed.py`` filled, kept as it is. 10 customer organisations
with 5 people each are added (or found). Messages are built first (not timed), then fed
one by one to ``aftercare.mail.ingest.ingest`` — the function a pipe from the MTA and
``aftercare ingest-mail`` call — or, with ``--batch N``, N at a time to ``ingest_many``
(what one IMAP fetch amounts to), so each one is parsed, de-duplicated, routed, stored
with its raw copy, turned into a request or a reply with the notifications it causes
queued (not sent). One message in ten carries a PNG attachment; one in ten is HTML-only.
Every third message replies (In-Reply-To) to an earlier request of the same sender.
Twenty warm-up messages go first, untimed (the URLconf import and template compilation
a long-lived intake pays once).

Prints messages/s overall and per kind, p50/p95 per message, the CPU time of this
process (steadier than the wall clock on a shared machine), and checks the outcome: as
many requests as new messages, as many replies as replies, nothing else. ``--profile
FILE`` runs the timed part under cProfile and prints the top costs.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e5270fe30000000049454e44ae426082"
)
WORDS = (
    "invoice posting stock balance report export payroll VAT warehouse delivery note "
    "price list login printer error screen module customer supplier period closing"
).split()


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--database-url", help="default: $DATABASE_URL, else SQLite in the data dir")
    p.add_argument("--data-dir", default="/tmp/aftercare-bench-mail")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--existing",
        action="store_true",
        help="use the database bench/seed.py filled (same --data-dir/--database-url) "
        "instead of a fresh one, to measure intake beside N existing requests",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=1,
        help="feed N messages at a time to ingest_many (as one IMAP fetch); 1: ingest() "
        "one by one (as a pipe from the MTA)",
    )
    p.add_argument(
        "--profile",
        metavar="FILE",
        help="run the intake under cProfile, write the stats to FILE, print the top costs",
    )
    return p.parse_args()


def build(n: int, senders: list[str], rng: random.Random, run: str = "") -> list[tuple[str, bytes]]:
    """(kind, raw) in arrival order; replies point at an earlier new message of the sender.

    ``run`` goes into every Message-ID, so a second run on the same database sends new
    messages rather than reusing the first run's Message-IDs."""
    out: list[tuple[str, bytes]] = []
    opened: dict[str, list[str]] = {}
    for i in range(n):
        sender = rng.choice(senders)
        earlier = opened.get(sender)
        is_reply = i % 3 == 2 and earlier
        if not is_reply:
            sender = rng.choice(senders)
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = "support@vendor.test"
        msg["Date"] = format_datetime(__import__("datetime").datetime.now().astimezone())
        mid = f"<bench-{run}{i}-{rng.getrandbits(48):x}@customer.example>"
        msg["Message-ID"] = mid
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 120)))
        if is_reply:
            parent = rng.choice(earlier)
            msg["Subject"] = "Re: your request"
            msg["In-Reply-To"] = parent
            msg["References"] = parent
            body = f"{text}\n\nOn Monday, Support wrote:\n> We registered your request.\n"
        else:
            msg["Subject"] = " ".join(rng.choice(WORDS) for _ in range(5)).capitalize()
            body = text
        if i % 10 == 5:
            msg.set_content(
                f"<html><body><p>{body}</p><script>x()</script></body></html>", subtype="html"
            )
        else:
            msg.set_content(body)
        if i % 10 == 3:
            msg.add_attachment(PNG, maintype="image", subtype="png", filename=f"screen-{i}.png")
        if not is_reply:
            opened.setdefault(sender, []).append(mid)
        out.append(("reply" if is_reply else "new", msg.as_bytes()))
    return out


def main() -> None:
    args = parse_args()
    os.environ["AFTERCARE_DATA_DIR"] = args.data_dir
    os.environ["AFTERCARE_MEDIA_ROOT"] = str(Path(args.data_dir) / "media")
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "aftercare.settings"
    os.environ["DEBUG"] = "0"
    # No cap is reached, however many runs went into one --existing database today.
    os.environ["AFTERCARE_MAIL_SENDER_DAILY_CAP"] = "1000000000"
    os.environ["AFTERCARE_MAIL_AUTOREPLY_DAILY_CAP"] = "1000000000"
    from seed import make_fresh_database

    after_migrate = None
    if args.existing:
        url = os.environ.get("DATABASE_URL") or "SQLite " + str(Path(args.data_dir))
        label = f"{url.rsplit('@', 1)[-1]} (seeded, kept)"
    else:
        label, after_migrate = make_fresh_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django_scopes import scopes_disabled

    from aftercare.accounts.models import User
    from aftercare.desk.models import Message, Ticket
    from aftercare.mail import ingest as intake
    from aftercare.mail import outbound
    from aftercare.mail.ingest import ingest
    from aftercare.mail.models import InboundMessage
    from aftercare.tenancy.models import Membership, Organisation

    call_command("migrate", interactive=False, verbosity=0)
    if after_migrate is not None:
        after_migrate()  # keeps the migrated database as the next run's template
    outbound._kick = lambda: None  # measure intake; sending is the worker's job
    rng = random.Random(args.seed)
    senders = []
    with scopes_disabled():
        for o in range(10):
            org, _new = Organisation.objects.get_or_create(
                code=f"c{o}", defaults={"name": f"Customer {o}"}
            )
            for p in range(5):
                address = f"person{p}@c{o}.example"
                user, _new = User.objects.get_or_create(
                    username=address, defaults={"email": address}
                )
                Membership.objects.get_or_create(user=user, organisation=org)
                senders.append(address)

        def counts() -> tuple[int, int, int]:
            return (
                Ticket.objects.count(),
                Message.objects.filter(channel="email").count(),
                InboundMessage.objects.count(),
            )

        # Warm-up, not timed: the first messages import the URLconf (for the links in the
        # receipt mail) and compile the templates, a second or more that a long-lived
        # intake pays once; left in, it would weigh on short runs.
        warm = build(20, senders, random.Random(args.seed + 1), run=f"warm-{time.time_ns():x}-")
        for _kind, raw in warm:
            ingest(raw, source="bench-warm-up")
        before = counts()
    messages = build(args.messages, senders, rng, run=f"{time.time_ns():x}-")
    size = sum(len(raw) for _k, raw in messages)
    print(f"database: {label} ({connection.vendor}), existing requests: {before[0]}")
    print(
        f"messages: {len(messages)} ({size / 1024 / 1024:.1f} MB), "
        f"replies: {sum(k == 'reply' for k, _ in messages)}"
    )
    times: dict[str, list[float]] = {"new": [], "reply": []}
    outcomes: dict[str, int] = {}
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    with scopes_disabled():
        t0, cpu0 = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        for start in range(0, len(messages), args.batch):
            chunk = messages[start : start + args.batch]
            t = time.perf_counter()
            if args.batch == 1:
                results = [ingest(chunk[0][1], source="bench")]
            else:
                results = intake.ingest_many([raw for _k, raw in chunk], source="bench")
            each = (time.perf_counter() - t) / len(chunk)  # a batch: its mean per message
            for (kind, _raw), result in zip(chunk, results, strict=True):
                times[kind].append(each)
                outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        if profiler:
            profiler.disable()
        total = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        after = counts()
    tickets = after[0] - before[0]
    replies = after[1] - before[1] - tickets
    stored = after[2] - before[2]
    new_n, reply_n = len(times["new"]), len(times["reply"])
    assert outcomes == {"ticket": new_n, "reply": reply_n}, outcomes
    assert tickets == new_n and replies == reply_n and stored == len(messages)
    every = sorted(times["new"] + times["reply"])

    def ms(q: float) -> str:
        return f"{every[min(len(every) - 1, int(q * len(every)))] * 1000:.1f}"

    print(f"total: {total:.1f} s -> {len(messages) / total:.0f} messages/s")
    # On a shared machine the wall clock counts the other work's time too; the CPU time of
    # this process (not the PostgreSQL server's) is steadier for before/after comparisons.
    print(
        f"cpu (this process): {cpu:.1f} s -> {len(messages) / cpu:.0f} messages per CPU-second, "
        f"{cpu / len(messages) * 1000:.2f} ms each; load average {os.getloadavg()[0]:.1f}"
    )
    for kind, values in times.items():
        print(
            f"  {kind:5}: {len(values) / sum(values):.0f}/s, "
            f"mean {statistics.mean(values) * 1000:.1f} ms"
        )
    per = "per message" if args.batch == 1 else f"per message (mean of its batch of {args.batch})"
    print(f"{per}: p50 {ms(0.5)} ms, p95 {ms(0.95)} ms")
    print(f"outcomes: {outcomes}; tickets {tickets}, replies {replies}, inbound rows {stored}")
    if profiler:
        import pstats

        profiler.dump_stats(args.profile)
        stats = pstats.Stats(args.profile)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
