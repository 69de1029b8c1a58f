"""What is queued for whom: the event mapping, payloads, tenancy, internal notes, once only."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from aftercare.desk import services
from aftercare.desk.models import Event, Priority, Status, Ticket
from aftercare.desk.signals import ticket_followup
from aftercare.desk.tests.factories import ticket_for
from aftercare.webhooks.models import Delivery
from aftercare.webhooks.tests.conftest import subscribe

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.test/aftercare"


def queued(subscription=None, **filters) -> list[Delivery]:
    rows = Delivery.objects.filter(**filters).order_by("pk")
    if subscription is not None:
        rows = rows.filter(subscription=subscription)
    return list(rows)


def payloads(subscription=None, **filters) -> list[dict]:
    return [json.loads(d.payload) for d in queued(subscription, **filters)]


def test_each_desk_change_queues_its_webhook_event(owner, org, operator, consultant):
    hook = subscribe(URL)
    ticket = ticket_for(owner, org)
    services.acknowledge(ticket=ticket, actor=operator)
    services.assign(ticket=ticket, actor=operator, assignee=operator)
    services.reprioritise(
        ticket=ticket, actor=operator, priority=Priority.HIGH, reason="Plant down"
    )
    services.classify(ticket=ticket, actor=operator, subject="Posting fails for invoices")
    services.escalate(ticket=ticket, actor=operator, note="needs L2", assignee=consultant)
    services.transition(ticket=ticket, actor=consultant, target=Status.SPRINT)
    services.reply(ticket=ticket, actor=consultant, body="Please send the export.")
    assert [d.event for d in queued(hook)] == [
        "ticket.created",
        "ticket.updated",  # acknowledged
        "ticket.updated",  # assigned
        "ticket.updated",  # reprioritised
        "ticket.updated",  # subject corrected
        "ticket.updated",  # escalated
        "ticket.updated",  # assigned to the consultant
        "ticket.status_changed",  # only this, not also ticket.updated
        "comment.created",
    ]
    kinds = [(p["change"]["kind"], p["change"]["field"]) for p in payloads(hook)]
    assert kinds == [
        ("created", ""),
        ("acknowledged", ""),
        ("assigned", "assignee"),
        ("reprioritised", "priority"),
        ("updated", "subject"),
        ("escalated", "level"),
        ("assigned", "assignee"),
        ("status_changed", "status"),
        ("reply", ""),
    ]


def test_payloads_describe_the_ticket_and_the_change(owner, org, operator, consultant, settings):
    settings.AFTERCARE_BASE_URL = "https://desk.vendor.example"
    owner.first_name, owner.last_name = "Ana", "Pop"
    owner.save()
    hook = subscribe(URL, organisation=org)
    ticket = ticket_for(owner, org, subject="Invoice posting fails")
    services.reprioritise(
        ticket=ticket, actor=operator, priority=Priority.HIGH, reason="Plant down"
    )
    services.transition(ticket=ticket, actor=operator, target=Status.SPRINT)
    services.reply(ticket=ticket, actor=consultant, body="Fixed in the test system.")
    created, reprioritised, moved, comment = queued(hook)
    body = json.loads(created.payload)
    assert body["id"] == str(created.uuid)
    assert body["event"] == "ticket.created"
    assert body["occurred_at"] == ticket.created_at.isoformat()
    assert body["ticket"] == {
        "number": ticket.number,
        "subject": "Invoice posting fails",
        "status": "backlog",
        "priority": "normal",
        "category": "incident",
        "level": "L1",
        "organisation": "alpha",
        "reporter": "Ana Pop",
        "assignee": None,
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.created_at.isoformat(),
        "url": f"https://desk.vendor.example/portal/requests/{ticket.number}/",
    }
    assert "comment" not in body and "sla" not in body
    change = json.loads(reprioritised.payload)["change"]
    assert change == {
        "kind": "reprioritised",
        "field": "priority",
        "old": "normal",
        "new": "high",
        "note": "Plant down",
    }
    moved = json.loads(moved.payload)
    assert moved["change"]["old"] == "backlog" and moved["change"]["new"] == "sprint"
    assert moved["ticket"]["status"] == "sprint" and moved["ticket"]["priority"] == "high"
    comment = json.loads(comment.payload)
    assert comment["comment"]["author"] == consultant.display_name
    assert comment["comment"]["body"] == "Fixed in the test system."
    assert comment["comment"]["created_at"]
    assert comment["comment"]["body_truncated"] is False


def test_global_hooks_link_to_the_console_organisation_hooks_to_the_portal(owner, org):
    mine = subscribe(URL, organisation=org)
    everyone = subscribe(URL)
    ticket = ticket_for(owner, org)
    assert payloads(mine)[0]["ticket"]["url"].endswith(f"/portal/requests/{ticket.number}/")
    assert payloads(everyone)[0]["ticket"]["url"].endswith(f"/console/tickets/{ticket.number}/")
    assert queued(mine)[0].uuid != queued(everyone)[0].uuid  # one delivery id each


def test_an_organisations_hook_never_receives_another_organisations_events(
    owner, org, outsider, other_org, consultant
):
    alpha = subscribe(URL, organisation=org, name="alpha")
    beta = subscribe(URL, organisation=other_org, name="beta")
    everyone = subscribe(URL, name="vendor")
    theirs = ticket_for(outsider, other_org, subject="Beta's secret project")
    services.reply(ticket=theirs, actor=consultant, body="Beta only")
    services.transition(ticket=theirs, actor=consultant, target=Status.SPRINT)
    assert queued(alpha) == []
    assert [d.event for d in queued(beta)] == [
        "ticket.created",
        "comment.created",
        "ticket.status_changed",
    ]
    assert len(queued(everyone)) == 3
    ours = ticket_for(owner, org)
    assert [d.ticket_id for d in queued(alpha)] == [ours.pk]
    assert all(d.ticket_id == theirs.pk for d in queued(beta))
    assert all(b"Beta" not in d.payload.encode() for d in queued(alpha))


def test_internal_notes_are_never_sent_not_even_to_global_hooks(owner, org, consultant):
    everyone = subscribe(URL)
    alpha = subscribe(URL, organisation=org)
    ticket = ticket_for(owner, org)
    before = Delivery.objects.count()
    services.reply(
        ticket=ticket, actor=consultant, body="customer is hard to deal with", internal=True
    )
    assert Event.objects.filter(ticket=ticket, action="desk.note.added").exists()
    assert Delivery.objects.count() == before
    services.reply(ticket=ticket, actor=consultant, body="We are on it.")
    for hook in (everyone, alpha):
        events = [d.event for d in queued(hook)]
        assert events == ["ticket.created", "comment.created"]
        # The public reply's payload carries the public reply, never the note.
        assert payloads(hook)[1]["comment"]["body"] == "We are on it."
    assert not Delivery.objects.filter(payload__contains="hard to deal with").exists()


def test_imported_history_is_not_sent(owner, org):
    from aftercare.imports._write import record_event

    hook = subscribe(URL)
    ticket = ticket_for(owner, org)
    for action in ("imports.trello.card_imported", "imports.csv.row_imported"):
        record_event(ticket, None, action, at=timezone.now())
    assert [d.event for d in queued(hook)] == ["ticket.created"]


def test_a_repeated_change_is_queued_once(owner, org, consultant):
    hook = subscribe(URL)
    ticket = ticket_for(owner, org)
    services.reply(ticket=ticket, actor=consultant, body="once")
    event = Event.objects.get(ticket=ticket, action="desk.reply.added")
    for _ in range(3):  # the same event delivered to the receivers again (a re-run job)
        with transaction.atomic():
            ticket_followup.send(sender=Ticket, ticket=ticket, event=event)
    assert [d.event for d in queued(hook)] == ["ticket.created", "comment.created"]


def test_a_rolled_back_change_queues_nothing(owner, org, consultant):
    hook = subscribe(URL)
    ticket = ticket_for(owner, org)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.reply(ticket=ticket, actor=consultant, body="never happened")
        raise RuntimeError("the request failed after the change")
    assert [d.event for d in queued(hook)] == ["ticket.created"]


def test_only_active_hooks_and_chosen_events_are_queued(owner, org, consultant):
    replies = subscribe(URL, events=["comment.created"], name="replies")
    paused = subscribe(URL, active=False, name="paused")
    ticket = ticket_for(owner, org)
    services.transition(ticket=ticket, actor=consultant, target=Status.SPRINT)
    services.reply(ticket=ticket, actor=consultant, body="hello")
    assert [d.event for d in queued(replies)] == ["comment.created"]
    assert queued(paused) == []


def test_sla_warnings_and_breaches_are_sent_without_internal_notes(owner, org):
    from aftercare.sla import services as sla
    from aftercare.sla.models import SlaClock

    hook = subscribe(URL, events=["sla.warning", "sla.breached"])
    ticket = ticket_for(owner, org)
    clock = SlaClock.objects.filter(ticket=ticket).order_by("deadline").first()
    sla.check(clock.warn_at + timedelta(seconds=1))
    sla.check(clock.deadline + timedelta(seconds=1))
    rows = queued(hook)
    assert [d.event for d in rows] == ["sla.warning", "sla.breached"]
    warning = json.loads(rows[0].payload)
    assert warning["change"] == {
        "kind": "warning",
        "field": "sla",
        "old": "",
        "new": clock.metric,
        "note": "",
    }
    assert warning["sla"] == {"metric": clock.metric, "deadline": clock.deadline.isoformat()}
    assert json.loads(rows[1].payload)["event"] == "sla.breached"


def test_long_comments_are_cut_and_flagged(owner, org, consultant):
    hook = subscribe(URL, events=["comment.created"])
    ticket = ticket_for(owner, org)
    services.reply(ticket=ticket, actor=consultant, body="x" * 70_000)
    comment = payloads(hook)[0]["comment"]
    assert len(comment["body"]) == 64 * 1024 and comment["body_truncated"] is True
