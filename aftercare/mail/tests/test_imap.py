"""IMAP intake against a real Dovecot: read, store, then mark read; killed mid-batch, nothing
is lost and nothing is stored twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from imap_tools import AND

from aftercare.desk.models import Ticket
from aftercare.mail.models import InboundMessage, Mailbox
from aftercare.mail.tests.factories import make_mail
from conftest import database_url

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def customer(owner, org):
    owner.email = "ana@alpha.example"
    owner.save()
    return owner


@pytest.fixture
def mailbox(dovecot, org):
    return Mailbox.objects.create(
        name="support",
        address="support@example.test",
        host="127.0.0.1",
        port=dovecot.port,
        security=Mailbox.Security.NONE,
        username=dovecot.user,
        password=dovecot.password,
        batch_size=500,
    )


def unseen(dovecot) -> int:
    with dovecot.client() as box:
        return len(box.uids(AND(seen=False)))


@pytest.mark.django_db
def test_fetch_turns_unread_mail_into_requests_and_marks_it_read(dovecot, mailbox, customer):
    dovecot.append(make_mail(subject="first"), make_mail(subject="second"))
    call_command("fetch_mail")
    assert set(Ticket.objects.values_list("subject", flat=True)) == {"first", "second"}
    assert unseen(dovecot) == 0
    mailbox.refresh_from_db()
    assert mailbox.last_success_at and not mailbox.last_error
    # Marked unread again by someone: fetched again, recognised, not stored twice.
    with dovecot.client() as box:
        box.flag(box.uids(), "\\Seen", False)
    call_command("fetch_mail")
    assert Ticket.objects.count() == 2


@pytest.mark.django_db
def test_processed_mail_can_be_moved_to_a_folder(dovecot, mailbox, customer):
    with dovecot.client() as box:
        box.folder.create("Processed")
    mailbox.processed_folder = "Processed"
    mailbox.save()
    dovecot.append(make_mail(subject="move me"))
    call_command("fetch_mail")
    with dovecot.client() as box:
        assert box.uids() == []
        box.folder.set("Processed")
        assert len(box.uids()) == 1


@pytest.mark.django_db
def test_a_wrong_password_is_recorded_not_crashing(dovecot, mailbox):
    mailbox.password = "wrong"
    mailbox.save()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("fetch_mail")
    mailbox.refresh_from_db()
    assert mailbox.last_error and mailbox.last_success_at is None


def _fetch_process(env_extra: dict, **kwargs) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "AFTERCARE_HUEY_IMMEDIATE": "1",
        **env_extra,
    }
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "fetch_mail", "--mailbox", "support"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


@pytest.mark.django_db(transaction=True)
def test_killed_between_storing_and_marking_read_nothing_is_lost_or_doubled(
    dovecot, mailbox, customer, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    dovecot.append(*(make_mail(subject=f"batch {i}") for i in range(6)))
    # The worst moment: message 3 is committed, the server does not know it yet.
    crashed = _fetch_process(
        {"AFTERCARE_FAULTS": "mail.after_store=3", "AFTERCARE_MEDIA_ROOT": str(tmp_path)}
    )
    _out, err = crashed.communicate(timeout=120)
    assert crashed.returncode == -signal.SIGKILL, err.decode()[-3000:]
    assert Ticket.objects.count() == 3
    assert unseen(dovecot) == 4  # the third is stored but still unread on the server
    rerun = _fetch_process({"AFTERCARE_MEDIA_ROOT": str(tmp_path)})
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()
    assert "duplicate: 1" in out.decode() and "ticket: 3" in out.decode()
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == [
        f"batch {i}" for i in range(6)
    ]
    assert InboundMessage.objects.count() == 6
    assert unseen(dovecot) == 0


@pytest.mark.django_db(transaction=True)
def test_killed_at_a_random_moment_the_next_run_completes_exactly_once(
    dovecot, mailbox, customer, tmp_path
):
    count = 40
    dovecot.append(*(make_mail(subject=f"load {i}") for i in range(count)))
    process = _fetch_process({"AFTERCARE_MEDIA_ROOT": str(tmp_path)})
    # Wait until intake is under way, then kill without warning.
    deadline = time.monotonic() + 120
    while InboundMessage.objects.count() < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(random.uniform(0, 0.3))
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    stored_before = InboundMessage.objects.count()
    assert 0 < stored_before <= count
    rerun = _fetch_process({"AFTERCARE_MEDIA_ROOT": str(tmp_path)})
    out, err = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, err.decode()
    subjects = list(Ticket.objects.values_list("subject", flat=True))
    assert sorted(subjects) == sorted(f"load {i}" for i in range(count))
    assert len(subjects) == len(set(subjects))
    assert unseen(dovecot) == 0
