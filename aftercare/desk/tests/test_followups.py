"""Follow-ups after real commits: what a change owes others is done once, never lost.

The rest of the suite runs follow-ups inline (``conftest.py``); these tests commit
(``transaction=True``) and run the production modes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from aftercare.desk import followups, services
from aftercare.desk.models import Category, Event, Followup, Ticket
from aftercare.desk.signals import ticket_followup
from aftercare.desk.tasks import run_followups
from aftercare.mail.models import OutboundMail
from aftercare.search.models import SearchDocument

pytestmark = pytest.mark.django_db(transaction=True)


def _file(owner, org, subject="Invoices do not print") -> Ticket:
    return services.open_ticket(
        actor=owner,
        organisation=org,
        subject=subject,
        description="Since this morning the invoice run stops at page two.",
        category=Category.INCIDENT,
    )


def _receipts(ticket: Ticket) -> list[OutboundMail]:
    return list(OutboundMail.objects.filter(ticket=ticket, kind="received"))


@pytest.fixture
def worker_mode(settings):
    settings.AFTERCARE_FOLLOWUPS = "worker"


@pytest.fixture
def lost_enqueue(monkeypatch, worker_mode):
    """The commit's enqueue never reaches the worker (queue away, process killed)."""
    monkeypatch.setattr(followups, "_after_commit", lambda: None)


def test_the_worker_expands_a_new_request_after_its_commit(worker_mode, owner, org):
    ticket = _file(owner, org)
    # The job ran (Huey immediate in tests) after the commit: receipt, index, no row left.
    assert len(_receipts(ticket)) == 1
    assert SearchDocument.objects.filter(ticket=ticket).exists()
    assert not Followup.objects.exists()


def test_the_request_commits_without_its_follow_ups_and_the_sweep_does_them_once(
    lost_enqueue, owner, org
):
    ticket = _file(owner, org)
    event = Event.objects.get(ticket=ticket, action="desk.ticket.created")
    assert Followup.objects.filter(event=event).count() == 1
    assert _receipts(ticket) == []
    assert not SearchDocument.objects.filter(ticket=ticket).exists()

    assert run_followups() == {"done": 1, "failed": 0}
    assert len(_receipts(ticket)) == 1
    assert SearchDocument.objects.filter(ticket=ticket).exists()
    assert run_followups() == {"done": 0, "failed": 0}
    assert len(_receipts(ticket)) == 1


def test_a_follow_up_expanded_twice_tells_nobody_twice(lost_enqueue, owner, org):
    ticket = _file(owner, org)
    row = Followup.objects.get()
    with transaction.atomic():  # a second worker that read the same row before the delete
        ticket_followup.send(
            sender=Ticket, ticket=ticket, event=row.event, **followups._load(row.context)
        )
    run_followups()
    assert len(_receipts(ticket)) == 1
    assert not Followup.objects.exists()


def test_a_rolled_back_change_leaves_no_follow_up(lost_enqueue, owner, org):
    with pytest.raises(RuntimeError), transaction.atomic():
        _file(owner, org)
        raise RuntimeError("the request failed after the change")
    assert not Followup.objects.exists()
    assert not OutboundMail.objects.exists()


def test_a_failing_receiver_keeps_the_row_for_a_later_retry_and_writes_nothing(
    lost_enqueue, owner, org
):
    broken = {"on": True}

    def receiver(sender, **kwargs):
        if broken["on"]:
            raise RuntimeError("the mail template is broken")

    ticket_followup.connect(receiver, dispatch_uid="test.broken")
    try:
        ticket = _file(owner, org)
        assert run_followups() == {"done": 0, "failed": 1}
        row = Followup.objects.get()
        assert row.attempts == 1
        assert "the mail template is broken" in row.last_error
        assert row.not_before > timezone.now()
        # What the other receivers wrote before the failure went with it.
        assert _receipts(ticket) == []
        assert not SearchDocument.objects.filter(ticket=ticket).exists()

        broken["on"] = False
        assert run_followups() == {"done": 0, "failed": 0}  # not due yet
        Followup.objects.update(not_before=timezone.now() - timedelta(seconds=1))
        assert run_followups() == {"done": 1, "failed": 0}
        assert len(_receipts(ticket)) == 1
    finally:
        ticket_followup.disconnect(dispatch_uid="test.broken")


def test_each_reply_notifies_with_its_own_words_when_expanded_later(
    lost_enqueue, owner, org, consultant
):
    ticket = _file(owner, org)
    services.reply(ticket=ticket, actor=consultant, body="First: please send the log.")
    services.reply(ticket=ticket, actor=consultant, body="Second: and a screenshot.")
    assert Followup.objects.count() == 3
    assert run_followups()["done"] == 3
    bodies = sorted(
        OutboundMail.objects.filter(ticket=ticket, kind="reply").values_list("body_text", flat=True)
    )
    assert len(bodies) == 2
    assert "First: please send the log." in bodies[0]
    assert "Second" not in bodies[0]
    assert "Second: and a screenshot." in bodies[1]


def test_commit_mode_expands_in_the_same_process_without_a_worker(settings, owner, org):
    settings.AFTERCARE_FOLLOWUPS = "commit"
    settings.HUEY.immediate = False  # no job may be needed for it
    ticket = _file(owner, org)
    assert len(_receipts(ticket)) == 1
    assert not Followup.objects.exists()


def test_one_enqueue_per_transaction(monkeypatch, worker_mode, owner, org, consultant):
    kicks = []
    monkeypatch.setattr(followups, "_after_commit", lambda: kicks.append(1))
    with transaction.atomic():
        ticket = _file(owner, org)
        services.reply(ticket=ticket, actor=consultant, body="Looking at it.")
    assert Followup.objects.count() == 2
    assert len(kicks) == 1


def test_receivers_render_outside_the_write_transaction_and_write_inside_it(
    monkeypatch, lost_enqueue, owner, org
):
    """On SQLite a transaction holds the only write lock: the receipt is rendered, and the
    search document built, before the expansion's transaction; only their rows are written
    in it, together with the row's deletion."""
    from django.db import connection

    from aftercare.mail import outbound
    from aftercare.search import indexer

    seen = []
    render, store = outbound.prepare, indexer._store

    def watched(name, fn):
        def run(*args, **kwargs):
            seen.append((name, connection.in_atomic_block))
            return fn(*args, **kwargs)

        return run

    monkeypatch.setattr(outbound, "prepare", watched("render mail", render))
    monkeypatch.setattr(indexer, "_wanted", watched("build document", indexer._wanted))
    monkeypatch.setattr(indexer, "_store", watched("store document", store))
    ticket = _file(owner, org)
    seen.clear()
    assert run_followups() == {"done": 1, "failed": 0}
    assert ("render mail", False) in seen
    assert ("build document", False) in seen
    assert ("store document", True) in seen
    assert all(inside for name, inside in seen if name == "store document")
    assert len(_receipts(ticket)) == 1
    assert SearchDocument.objects.filter(ticket=ticket).exists()


def test_a_worker_that_lost_the_race_writes_nothing(monkeypatch, lost_enqueue, owner, org):
    """Two workers render the same change; the one that comes second finds the row gone
    and drops what it rendered."""
    ticket = _file(owner, org)
    row = Followup.objects.get()
    real_send = ticket_followup.send

    def send_then_lose_the_race(*args, **kwargs):
        result = real_send(*args, **kwargs)
        Followup.objects.filter(pk=row.pk).delete()  # another worker expanded it meanwhile
        return result

    monkeypatch.setattr(ticket_followup, "send", send_then_lose_the_race)
    assert run_followups() == {"done": 0, "failed": 0}
    assert _receipts(ticket) == []
    assert not SearchDocument.objects.filter(ticket=ticket).exists()
