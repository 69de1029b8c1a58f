"""Linking related requests and merging duplicates (``desk.merge``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from aftercare.accounts.roles import PermSet, Role
from aftercare.desk import merge, services
from aftercare.desk.models import Approval, Event, Message, Status, Ticket, TicketLink
from aftercare.desk.querysets import visible_events
from aftercare.desk.tests.factories import PNG, ticket_for
from aftercare.desk.timeline import build_timeline
from aftercare.ops import maintenance
from aftercare.ops.maintenance import MaintenanceError
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def survivor(owner, org):
    return ticket_for(owner, org, subject="Invoices do not post")


@pytest.fixture
def duplicate(owner, org):
    return ticket_for(
        owner,
        org,
        subject="Invoice posting broken",
        description="Same again: posting fails.",
        attachments=[SimpleUploadedFile("screen.png", PNG, "image/png")],
    )


@pytest.fixture
def admin(db):
    return staff(Role.ADMIN, username="admin")


def _fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def _nothing_moved(duplicate: Ticket, survivor: Ticket) -> None:
    duplicate = _fresh(duplicate)
    assert duplicate.merged_into_id is None
    assert duplicate.status != Status.REJECTED
    assert Message.objects.filter(ticket=duplicate).exists()
    assert not Event.objects.filter(action__startswith="desk.ticket.merge").exists()


# -- merging ------------------------------------------------------------------------------


def test_it_moves_messages_files_history_time_followers_and_tags(
    duplicate, survivor, operator, consultant, manager, org
):
    from aftercare.notifications.models import Follower
    from aftercare.timetracking.models import TimeEntry

    services.reply(ticket=duplicate, actor=operator, body="Checked the log.", internal=True)
    services.transition(ticket=duplicate, actor=operator, target=Status.SPRINT)
    services.set_tags(ticket=duplicate, actor=operator, names="month-end, invoices")
    services.set_tags(ticket=survivor, actor=operator, names="invoices, posting")
    entry = TimeEntry.objects.create(ticket=duplicate, organisation=org, user=operator, minutes=15)
    Follower.objects.create(ticket=duplicate, organisation=org, user=manager, role="watcher")
    Follower.objects.create(ticket=duplicate, organisation=org, user=consultant, role="watcher")
    Follower.objects.create(ticket=survivor, organisation=org, user=consultant, role="watcher")
    dup_messages = set(duplicate.messages.values_list("pk", flat=True))
    sprint_event = Event.objects.get(ticket=duplicate, field="status", new=Status.SPRINT)

    result = merge.merge(
        duplicate=duplicate, survivor=survivor, actor=operator, note="Same posting error."
    )

    assert result.pk == survivor.pk
    assert dup_messages <= set(Message.objects.filter(ticket=survivor).values_list("pk", flat=True))
    assert not Message.objects.filter(ticket=duplicate).exists()
    assert [a.name for a in survivor.attachments.all()] == ["screen.png"]
    sprint_event.refresh_from_db()
    assert sprint_event.ticket_id == survivor.pk  # the history moved
    entry.refresh_from_db()
    assert entry.ticket_id == survivor.pk
    assert set(
        Follower.objects.filter(ticket=survivor).values_list("user__username", flat=True)
    ) == {
        "manager",
        "consultant",
    }
    assert Follower.objects.filter(ticket=survivor, user=consultant).count() == 1
    assert sorted(survivor.tags.values_list("name", flat=True)) == [
        "invoices",
        "month-end",
        "posting",
    ]
    # The duplicate keeps its registration and its end.
    kept = list(
        Event.objects.filter(ticket=duplicate).order_by("pk").values_list("action", flat=True)
    )
    assert kept == ["desk.ticket.created", "desk.ticket.status_changed", "desk.ticket.merged"]
    merged = Event.objects.get(ticket=duplicate, action="desk.ticket.merged")
    assert (merged.actor, merged.field, merged.new, merged.note) == (
        operator,
        "merged_into",
        survivor.number,
        "Same posting error.",
    )
    received = Event.objects.get(ticket=survivor, action="desk.ticket.merge_received")
    assert (received.actor, received.old) == (operator, duplicate.number)


def test_the_duplicate_ends_rejected_with_its_clocks_stopped_and_both_versions_bump(
    duplicate, survivor, operator
):
    from aftercare.sla.models import SlaClock

    assert SlaClock.objects.filter(ticket=duplicate, stopped_at=None).exists()
    before = (duplicate.version, _fresh(survivor).version)
    merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
    duplicate, survivor = _fresh(duplicate), _fresh(survivor)
    assert duplicate.status == Status.REJECTED
    assert duplicate.merged_into == survivor
    assert duplicate.rejection_reason == f"Merged into {survivor.number}"
    assert duplicate.closed_at is not None
    assert not SlaClock.objects.filter(ticket=duplicate, stopped_at=None).exists()
    assert SlaClock.objects.filter(ticket=survivor, stopped_at=None).exists()
    assert duplicate.version > before[0]
    assert survivor.version == before[1] + 1
    change = Event.objects.get(ticket=duplicate, action="desk.ticket.status_changed")
    assert (change.actor, change.new, change.note) == (
        None,
        Status.REJECTED,
        f"Merged into {survivor.number}",
    )


def test_an_operator_merges_an_in_progress_duplicate_though_they_could_not_reject_it(
    duplicate, survivor, operator, consultant
):
    services.transition(ticket=duplicate, actor=consultant, target=Status.IN_PROGRESS)
    merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
    assert _fresh(duplicate).status == Status.REJECTED


@pytest.mark.parametrize("role", ["operator", "consultant", "manager", "admin"])
def test_staff_who_triage_may_merge(request, role, duplicate, survivor):
    merge.merge(duplicate=duplicate, survivor=survivor, actor=request.getfixturevalue(role))
    assert _fresh(duplicate).merged_into_id == survivor.pk


def test_the_customer_sees_the_moved_conversation_on_the_survivor(
    duplicate, survivor, operator, owner
):
    merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
    timeline = build_timeline(PermSet(owner), _fresh(survivor))
    bodies = [e.obj.body for e in timeline if e.kind == "message"]
    assert "Same again: posting fails." in bodies
    # The customer reads that it was merged (and where), and the status change; links and
    # the merge note stay the desk's.
    events = visible_events(PermSet(owner), duplicate)
    customer_actions = set(events.values_list("action", flat=True))
    assert {"desk.ticket.merged", "desk.ticket.status_changed"} <= customer_actions
    assert "desk.ticket.linked" not in customer_actions


def test_links_are_re_pointed_without_self_links_or_repeats(
    duplicate, survivor, operator, owner, org
):
    third = ticket_for(owner, org, subject="Third")
    fourth = ticket_for(owner, org, subject="Fourth")
    merge.link(ticket=duplicate, other=survivor, actor=operator)
    merge.link(ticket=duplicate, other=third, actor=operator)
    merge.link(ticket=survivor, other=third, actor=operator)
    merge.link(ticket=fourth, other=duplicate, actor=operator)
    merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
    pairs = set(TicketLink.objects.values_list("source_id", "target_id"))
    assert pairs == {
        tuple(sorted((survivor.pk, third.pk))),
        tuple(sorted((survivor.pk, fourth.pk))),
    }


def test_pending_approvals_are_withdrawn_and_answered_ones_stay(
    duplicate, survivor, operator, consultant, org
):
    expires = timezone.now() + timedelta(days=3)
    pending = Approval.objects.create(
        ticket=duplicate,
        organisation=org,
        action="Restart",
        requested_by=consultant,
        expires_at=expires,
    )
    answered = Approval.objects.create(
        ticket=duplicate,
        organisation=org,
        action="Old",
        requested_by=consultant,
        expires_at=expires,
        state=Approval.State.APPROVED,
    )
    merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
    pending.refresh_from_db()
    answered.refresh_from_db()
    assert pending.state == Approval.State.WITHDRAWN
    assert pending.ticket_id == answered.ticket_id == duplicate.pk
    assert answered.state == Approval.State.APPROVED
    assert Event.objects.filter(ticket=duplicate, action="desk.approval.withdrawn").exists()


# -- refusals -----------------------------------------------------------------------------


def test_it_refuses_across_organisations(duplicate, operator, other_org, outsider):
    elsewhere = ticket_for(outsider, other_org)
    with pytest.raises(ValidationError, match="different customers"):
        merge.merge(duplicate=duplicate, survivor=elsewhere, actor=operator)
    _nothing_moved(duplicate, elsewhere)


@pytest.mark.parametrize("role", ["developer", "owner", "coordinator"])
def test_developers_and_customers_may_not_merge(request, role, duplicate, survivor):
    with pytest.raises(PermissionDenied):
        merge.merge(duplicate=duplicate, survivor=survivor, actor=request.getfixturevalue(role))
    _nothing_moved(duplicate, survivor)


def test_an_agent_restricted_to_other_organisations_may_not_merge_nor_link(
    duplicate, survivor, operator, other_org
):
    AgentRestriction.objects.create(user=operator, organisation=other_org)
    with pytest.raises(PermissionDenied):
        merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
    with pytest.raises(PermissionDenied):
        merge.link(ticket=duplicate, other=survivor, actor=operator)
    _nothing_moved(duplicate, survivor)
    assert not TicketLink.objects.exists()


def test_it_refuses_in_maintenance_mode(duplicate, survivor, operator):
    maintenance.switch(True, message="Back soon.", by="tests")
    try:
        with pytest.raises(MaintenanceError):
            merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
        with pytest.raises(MaintenanceError):
            merge.link(ticket=duplicate, other=survivor, actor=operator)
    finally:
        maintenance.switch(False, by="tests")
    _nothing_moved(duplicate, survivor)


def test_it_refuses_the_same_request(duplicate, operator):
    with pytest.raises(ValidationError, match="itself"):
        merge.merge(duplicate=duplicate, survivor=duplicate, actor=operator)


def test_it_refuses_a_request_already_merged(duplicate, survivor, operator, owner, org):
    merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
    third = ticket_for(owner, org, subject="Third")
    with pytest.raises(ValidationError, match="already merged"):
        merge.merge(duplicate=duplicate, survivor=third, actor=operator)
    with pytest.raises(ValidationError, match="itself merged"):
        merge.merge(duplicate=third, survivor=duplicate, actor=operator)
    assert _fresh(third).merged_into_id is None


@pytest.mark.parametrize("closed", [Status.ARCHIVED, Status.REJECTED])
def test_it_refuses_a_closed_survivor(closed, duplicate, survivor, operator):
    Ticket.objects.filter(pk=survivor.pk).update(status=closed)
    with pytest.raises(ValidationError, match="closed"):
        merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
    _nothing_moved(duplicate, survivor)


def test_it_refuses_a_duplicate_that_can_no_longer_be_rejected(duplicate, survivor, operator):
    Ticket.objects.filter(pk=duplicate.pk).update(status=Status.DONE)
    with pytest.raises(ValidationError, match="can still be rejected"):
        merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
    _nothing_moved(duplicate, survivor)


# -- following merged numbers ---------------------------------------------------------------


def test_resolve_merged_follows_a_chain_and_stops_at_a_loop(
    duplicate, survivor, operator, owner, org
):
    third = ticket_for(owner, org, subject="Third")
    merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
    merge.merge(duplicate=survivor, survivor=third, actor=operator)
    assert merge.resolve_merged(_fresh(duplicate)) == third
    assert merge.resolve_merged(third) == third
    Ticket.objects.filter(pk=third.pk).update(merged_into=duplicate)  # a loop, by hand
    assert merge.resolve_merged(_fresh(duplicate)).pk in {duplicate.pk, survivor.pk, third.pk}


def test_visible_survivor_is_none_for_a_customer_who_may_not_see_it(
    duplicate, operator, teammate, org
):
    other = ticket_for(teammate, org, subject="Teammate's")
    merge.merge(duplicate=duplicate, survivor=other, actor=operator)
    duplicate = _fresh(duplicate)
    assert merge.visible_survivor(PermSet(duplicate.reporter), duplicate) is None
    assert merge.visible_survivor(PermSet(teammate), duplicate) == other  # they reported it
    assert merge.visible_survivor(PermSet(operator), duplicate) == other


# -- links --------------------------------------------------------------------------------


def test_linking_is_stored_once_per_pair_and_twice_is_no_error(duplicate, survivor, developer):
    first, second = sorted((duplicate, survivor), key=lambda t: t.pk)
    assert merge.link(ticket=second, other=first, actor=developer) is True
    assert merge.link(ticket=first, other=second, actor=developer) is False
    assert list(TicketLink.objects.values_list("source_id", "target_id")) == [(first.pk, second.pk)]
    for one, two in ((first, second), (second, first)):
        ev = Event.objects.get(ticket=one, action="desk.ticket.linked")
        assert (ev.new, ev.is_internal, ev.actor) == (two.number, True, developer)


def test_unlinking_removes_the_pair_with_events_on_both(duplicate, survivor, operator):
    merge.link(ticket=duplicate, other=survivor, actor=operator)
    assert merge.unlink(ticket=survivor, other=duplicate, actor=operator) is True
    assert merge.unlink(ticket=survivor, other=duplicate, actor=operator) is False
    assert not TicketLink.objects.exists()
    for one, two in ((duplicate, survivor), (survivor, duplicate)):
        ev = Event.objects.get(ticket=one, action="desk.ticket.unlinked")
        assert (ev.old, ev.is_internal) == (two.number, True)


def test_linking_refuses_customers_other_organisations_and_itself(
    duplicate, survivor, owner, coordinator, operator, outsider, other_org
):
    for customer in (owner, coordinator):
        with pytest.raises(PermissionDenied):
            merge.link(ticket=duplicate, other=survivor, actor=customer)
    with pytest.raises(ValidationError, match="different customers"):
        merge.link(ticket=duplicate, other=ticket_for(outsider, other_org), actor=operator)
    with pytest.raises(ValidationError):
        merge.link(ticket=duplicate, other=duplicate, actor=operator)
    assert not TicketLink.objects.exists()


# -- mail to a merged request ---------------------------------------------------------------


@pytest.fixture
def ana(owner, org):
    owner.email = "ana@alpha.example"
    owner.save()
    org.mail_domains = "alpha.example"
    org.save()
    return owner


def test_a_mail_reply_to_the_duplicates_number_lands_on_the_survivor(
    ana, duplicate, survivor, operator
):
    from aftercare.mail.ingest import ingest
    from aftercare.mail.tests.factories import make_mail

    merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
    result = ingest(make_mail(subject=f"Re: [{duplicate.number}] still", body="Still failing."))
    assert result.inbound.ticket_id == survivor.pk
    assert Message.objects.get(body="Still failing.").ticket_id == survivor.pk


def test_a_mail_reply_by_reply_token_follows_the_merge_too(ana, duplicate, survivor, operator):
    from aftercare.mail.ingest import ingest
    from aftercare.mail.outbound import reply_token
    from aftercare.mail.tests.factories import make_mail

    merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
    to = f"support+{reply_token(duplicate.number)}@aftercare.test"
    result = ingest(make_mail(to=to, subject="Re: your request", body="By token."))
    assert result.inbound.ticket_id == survivor.pk


def test_a_reply_from_someone_who_may_not_see_the_survivor_stays_on_the_duplicate(
    ana, duplicate, operator, teammate, org
):
    """No leak: a customer who may not see the survivor does not write into it."""
    from aftercare.mail.ingest import ingest
    from aftercare.mail.tests.factories import make_mail

    theirs = ticket_for(teammate, org, subject="Teammate's request")
    merge.merge(duplicate=duplicate, survivor=theirs, actor=operator)
    result = ingest(make_mail(subject=f"Re: [{duplicate.number}]", body="Mine."))
    assert result.inbound.ticket_id == duplicate.pk
    assert not Message.objects.filter(ticket=theirs, body="Mine.").exists()


def test_the_portal_sends_the_customer_to_the_survivor_instead_of_a_reply_box(
    duplicate, survivor, operator, owner, client_for
):
    from django.urls import reverse

    merge.merge(duplicate=duplicate, survivor=survivor, actor=operator)
    client = client_for(owner)
    url = reverse("portal:detail", args=[duplicate.number])
    page = client.get(url).content.decode()
    assert 'id="merged-banner"' in page and survivor.number in page
    assert 'name="action" value="reply"' not in page
    before = Message.objects.count()
    refused = client.post(url, {"action": "reply", "body": "Any news?"}, follow=True)
    assert "merged into another" in refused.content.decode()
    assert Message.objects.count() == before
    # The customers of both sides were told, once each.
    from aftercare.notifications.models import Notification

    kinds = set(Notification.objects.filter(user=owner).values_list("kind", flat=True))
    assert "merged" in kinds
