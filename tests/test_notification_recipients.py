"""Every notification about a request reaches only people who may see that request.

Two organisations, A (``org``) and B (``other_org``). Staff restricted to B, and customers
of B, must never be told about A's requests — not in the in-app list (SLA notifications,
the console's notifications page), not by mail — whichever producer speaks; the people who
may see the request still are (so each test can fail both ways).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from aftercare.accounts.roles import Role
from aftercare.desk import approvals, services
from aftercare.desk.models import Event, Status, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.mail import notifications
from aftercare.mail.models import OutboundMail
from aftercare.sla import services as sla
from aftercare.sla.models import Notification
from aftercare.tenancy.models import AgentRestriction, Membership
from aftercare.tenancy.tests.factories import customer, staff

pytestmark = pytest.mark.django_db
BUC = ZoneInfo("Europe/Bucharest")


def at(*args):
    return datetime(*args, tzinfo=BUC)


def restrict(user, *organisations):
    for organisation in organisations:
        AgentRestriction.objects.create(user=user, organisation=organisation)
    return user


@pytest.fixture
def cast(org, other_org, owner, outsider, manager, consultant, operator):
    """Who may see A's requests, and who may not (restricted to B, or B's customers)."""
    return {
        "allowed": {
            "manager": manager,
            "consultant": consultant,
            "operator": operator,
            "a_manager": restrict(staff(Role.MANAGER, username="a_manager"), org),
            "a_consultant": restrict(staff(Role.CONSULTANT, username="a_consultant"), org),
        },
        "barred": {
            "b_manager": restrict(staff(Role.MANAGER, username="b_manager"), other_org),
            "b_consultant": restrict(staff(Role.CONSULTANT, username="b_consultant"), other_org),
            "b_operator": restrict(staff(Role.OPERATOR, username="b_operator"), other_org),
            "outsider": outsider,
            "b_customer": customer(other_org, username="b_customer"),
        },
    }


BARRED = {"b_manager", "b_consultant", "b_operator", "outsider", "b_customer", "rehomed"}


def mailed(ticket: Ticket, *kinds: str) -> set[str]:
    """User names with a queued (or suppressed) mail row about ``ticket``."""
    rows = OutboundMail.objects.filter(ticket=ticket)
    if kinds:
        rows = rows.filter(kind__in=kinds)
    return set(rows.exclude(recipient=None).values_list("recipient__username", flat=True))


def listed(ticket: Ticket, kind: str | None = None) -> set[str]:
    rows = Notification.objects.filter(ticket=ticket)
    if kind:
        rows = rows.filter(kind=kind)
    return set(rows.values_list("user__username", flat=True))


def rehome(user, org, other_org) -> None:
    """The customer moved from A to B (their membership of A is gone)."""
    Membership.objects.filter(user=user, organisation=org).delete()
    Membership.objects.create(user=user, organisation=other_org, role=Role.CUSTOMER)


@pytest.fixture
def filed(owner, org, cast):
    """A's request, filed on Monday 9 Nov 2026 at 10:00 in Bucharest."""
    with time_machine.travel(at(2026, 11, 9, 10), tick=False):
        return ticket_for(owner, org)


# -- customer-facing mail -----------------------------------------------------------------


def test_the_receipt_goes_to_the_reporter_only_while_they_may_see_the_request(
    filed, owner, org, other_org
):
    assert mailed(filed, "received") == {"owner"}
    OutboundMail.objects.all().delete()
    rehome(owner, org, other_org)
    # The receipt's producer, run again (as a re-processed intake would) for the same request.
    event = Event.objects.create(
        ticket=filed,
        organisation_id=org.pk,
        action="desk.ticket.created",
        new=filed.number,
        created_at=timezone.now(),
    )
    notifications.on_ticket_changed(Ticket, ticket=filed, event=event)
    assert mailed(filed) == set()


def test_replies_and_status_mail_skip_a_customer_who_left_the_organisation(
    filed, owner, consultant, org, other_org, cast
):
    services.reply(ticket=filed, actor=consultant, body="Looking into it.")
    services.transition(ticket=filed, actor=consultant, target=Status.IN_PROGRESS)
    services.transition(ticket=filed, actor=consultant, target=Status.WAITING)
    assert mailed(filed, "reply", "waiting") == {"owner"}
    OutboundMail.objects.all().delete()
    owner.username = "rehomed"
    owner.save()
    rehome(owner, org, other_org)
    services.reply(ticket=filed, actor=consultant, body="Any news?")
    services.transition(ticket=filed, actor=consultant, target=Status.IN_PROGRESS)
    services.transition(ticket=filed, actor=consultant, target=Status.DONE)
    assert mailed(filed) & BARRED == set()
    assert mailed(filed) == set()


def test_a_customers_reply_reaches_the_assignee_only_while_they_may_see_it(
    filed, owner, operator, cast, other_org
):
    a_consultant = cast["allowed"]["a_consultant"]
    services.assign(ticket=filed, actor=operator, assignee=a_consultant)
    services.reply(ticket=filed, actor=owner, body="More details.")
    assert mailed(filed, "customer_reply") == {"a_consultant"}
    OutboundMail.objects.all().delete()
    # Moved to B's team later: they are no longer told of A's requests.
    AgentRestriction.objects.filter(user=a_consultant).update(organisation=other_org)
    services.reply(ticket=filed, actor=owner, body="Even more details.")
    assert mailed(filed) == set()


# -- staff mail ------------------------------------------------------------------------------


def test_a_request_is_never_assigned_to_nor_mailed_to_staff_restricted_elsewhere(
    filed, operator, cast
):
    for name in ("b_manager", "b_consultant", "b_operator"):
        with pytest.raises(ValidationError, match="may not see requests of Alpha Foods"):
            services.assign(ticket=filed, actor=operator, assignee=cast["barred"][name])
    assert mailed(filed, "assigned") == set()
    services.assign(ticket=filed, actor=operator, assignee=cast["allowed"]["a_consultant"])
    assert mailed(filed, "assigned") == {"a_consultant"}


def test_escalation_mail_goes_to_consultants_who_may_see_the_request(filed, operator, cast):
    with pytest.raises(ValidationError, match="may not see requests"):
        services.escalate(ticket=filed, actor=operator, assignee=cast["barred"]["b_consultant"])
    services.escalate(ticket=filed, actor=operator, note="Needs L2")
    told = mailed(filed, "escalated")
    assert told == {"consultant", "a_consultant"}
    assert told & BARRED == set()


def test_escalation_skips_an_assignee_restricted_since(filed, operator, cast, other_org):
    a_consultant = cast["allowed"]["a_consultant"]
    services.assign(ticket=filed, actor=operator, assignee=a_consultant)
    AgentRestriction.objects.filter(user=a_consultant).update(organisation=other_org)
    OutboundMail.objects.all().delete()
    services.escalate(ticket=filed, actor=operator, note="Needs L2")
    # Not the assignee who may no longer see it: the consultants who may.
    assert mailed(filed, "escalated") == {"consultant"}


def test_approval_requests_go_only_to_people_who_may_see_the_request(
    filed, owner, consultant, org, other_org, cast
):
    services.transition(ticket=filed, actor=consultant, target=Status.SPRINT)
    approvals.request(ticket=filed, actor=consultant, action="Fix the data in production")
    assert mailed(filed, "approval") == {"owner"}  # no coordinator: the reporter decides
    OutboundMail.objects.all().delete()
    approvals.withdraw(approval=filed.approvals.get(), actor=consultant)
    owner.username = "rehomed"
    owner.save()
    rehome(owner, org, other_org)
    # A reporter who left the organisation is nobody's approver: nobody is asked.
    with pytest.raises(ValidationError):
        approvals.request(ticket=filed, actor=consultant, action="Fix the data again")
    assert mailed(filed) == set()
    assert not approvals.may_decide(owner, filed)


def test_approval_decisions_reach_the_requester_only_while_they_may_see_it(
    filed, coordinator, cast, other_org
):
    a_consultant = cast["allowed"]["a_consultant"]
    services.transition(ticket=filed, actor=a_consultant, target=Status.SPRINT)
    first = approvals.request(ticket=filed, actor=a_consultant, action="Restart the server")
    approvals.decide(approval=first, user=coordinator, approve=True, via="portal")
    assert mailed(filed, "approval_approved") == {"a_consultant"}
    second = approvals.request(ticket=filed, actor=a_consultant, action="Restart it again")
    AgentRestriction.objects.filter(user=a_consultant).update(organisation=other_org)
    approvals.decide(approval=second, user=coordinator, approve=False, via="portal")
    assert mailed(filed, "approval_declined") == set()


# -- SLA warnings and breaches (in-app and mail) ----------------------------------------------


def test_sla_warnings_and_breaches_reach_only_managers_who_may_see_the_request(filed, cast):
    sla.check(at(2026, 11, 9, 13, 1))  # 75 % of the four-hour first response
    assert listed(filed, "warning") == {"manager", "a_manager"}
    assert mailed(filed, "sla_warning") == {"manager", "a_manager"}
    sla.check(at(2026, 11, 9, 14, 1))
    assert listed(filed, "breached") == {"manager", "a_manager"}
    assert mailed(filed, "sla_breached") == {"manager", "a_manager"}
    # The automatic escalation that follows: consultants who may see it.
    assert mailed(filed, "escalated") == {"consultant", "a_consultant"}
    assert (listed(filed) | mailed(filed)) & BARRED == set()


def test_an_sla_warning_for_an_assignee_restricted_since_goes_to_the_managers(
    filed, operator, cast, other_org
):
    a_consultant = cast["allowed"]["a_consultant"]
    services.assign(ticket=filed, actor=operator, assignee=a_consultant)
    AgentRestriction.objects.filter(user=a_consultant).update(organisation=other_org)
    sla.check(at(2026, 11, 9, 13, 1))
    assert listed(filed, "warning") == {"manager", "a_manager"}
    sla.check(at(2026, 11, 9, 14, 1))
    assert "a_consultant" not in listed(filed) | mailed(filed, "sla_breached", "sla_warning")


def test_the_notifications_page_lists_only_requests_the_viewer_may_still_see(
    filed, owner, org, other_org, client_for, cast
):
    sla.check(at(2026, 11, 9, 13, 1))
    a_manager = cast["allowed"]["a_manager"]
    client = client_for(a_manager)
    assert [n.ticket_id for n in client.get(reverse("console:notifications")).context["rows"]] == [
        filed.pk
    ]
    # Moved to B's team: A's warning disappears from their list.
    AgentRestriction.objects.filter(user=a_manager).update(organisation=other_org)
    response = client.get(reverse("console:notifications"))
    assert response.context["rows"] == []
    assert filed.number not in response.content.decode()


# -- the bell and the collaboration producers (mentions, watchers, CC, reopen, merge) -------


def in_app(ticket: Ticket, *kinds: str) -> set[str]:
    from aftercare.notifications.models import Notification as InApp

    rows = InApp.objects.filter(ticket=ticket)
    if kinds:
        rows = rows.filter(kind__in=kinds)
    return set(rows.values_list("user__username", flat=True))


def test_every_collaboration_producer_tells_only_people_who_may_see_the_request(
    filed, owner, teammate, operator, consultant, org, other_org, cast
):
    """Mentions, watchers, CC, reopening and merge notices: the barred (staff restricted to
    B, B's customers) are named, watched and copied where they can be, and never told."""
    from aftercare.desk.services import _event
    from aftercare.notifications import services as bell
    from aftercare.notifications.kinds import IN_APP
    from aftercare.notifications.models import Follower

    a_consultant = cast["allowed"]["a_consultant"]
    services.assign(ticket=filed, actor=operator, assignee=a_consultant)
    # Watchers and CC: the barred cannot be added...
    for name, user in cast["barred"].items():
        with pytest.raises((ValidationError, PermissionDenied)):
            bell.follow(ticket=filed, actor=operator, user=user)
    bell.follow(ticket=filed, actor=operator, user=cast["allowed"]["a_manager"])
    bell.follow(ticket=filed, actor=operator, user=teammate)
    # ...and one who was added and is restricted elsewhere since is not told either.
    b_watcher = cast["allowed"]["manager"]
    bell.follow(ticket=filed, actor=operator, user=b_watcher)
    AgentRestriction.objects.create(user=b_watcher, organisation=other_org)
    # A note naming everyone, replies both ways, a release, a reopening, a merge notice.
    names = " ".join(f"@{n}" for n in [*cast["barred"], *cast["allowed"]])
    services.reply(ticket=filed, actor=operator, internal=True, body=f"Please look {names}")
    services.reply(ticket=filed, actor=consultant, body="Fixed.")
    services.reply(ticket=filed, actor=owner, body="Thanks.")
    for target in (Status.IN_PROGRESS, Status.DONE, Status.RELEASED):
        services.transition(ticket=filed, actor=consultant, target=target)
    services.transition(ticket=filed, actor=owner, target=Status.IN_PROGRESS, reason="Again.")
    _event(filed, operator, "desk.ticket.merged", field="merged_into", new="AC-2026-999999")

    everyone = in_app(filed) | mailed(filed)
    assert everyone & BARRED == set()
    # The manager was told once, when added (before being restricted to B), never since.
    assert "manager" not in in_app(filed, *(k for k in IN_APP if k != "followed"))
    assert "manager" not in mailed(filed, *(k for k in IN_APP if k != "followed"))
    assert in_app(filed, "mention") == {"consultant", "a_consultant", "a_manager"}
    assert in_app(filed, "update_note") == set()  # the watcher was mentioned: one notice
    assert in_app(filed, "update_reply") >= {"a_manager", "teammate"}
    assert in_app(filed, "reopened") == {"a_consultant"}
    assert in_app(filed, "merged") == {"owner", "teammate"}
    assert set(Follower.objects.values_list("user__username", flat=True)) == {
        "a_manager",
        "teammate",
        "manager",
    }
