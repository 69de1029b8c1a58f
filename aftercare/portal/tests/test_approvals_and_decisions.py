"""The portal's approvals list and badge, the accept / reopen buttons, the status texts, and
one pending approval per move — tried by owner, teammate, coordinator, outsider and staff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from aftercare.desk import approvals, services
from aftercare.desk.models import Approval, Category, Status, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.portal import status_help

pytestmark = pytest.mark.django_db
ACTION = "Correct the stock balances directly in the production database"
APPROVALS = reverse("portal:approvals")


@pytest.fixture
def mailable(coordinator, outsider):
    for user, address in ((coordinator, "coord@alpha.example"), (outsider, "out@beta.example")):
        user.email = address
        user.save()


def _ask(ticket, consultant, target=Status.IN_PROGRESS, action=ACTION):
    return approvals.request(ticket=ticket, actor=consultant, action=action, target_status=target)


def _released(ticket, consultant):
    for target in (Status.IN_PROGRESS, Status.DONE, Status.RELEASED):
        services.transition(ticket=ticket, actor=consultant, target=target)
    ticket.refresh_from_db()
    return ticket


# -- one pending approval per move -------------------------------------------------------


def test_it_refuses_a_second_pending_approval_for_the_same_move(
    mailable, ticket, consultant, manager
):
    first = _ask(ticket, consultant)
    with pytest.raises(ValidationError) as caught:
        _ask(ticket, manager, action="Same thing, asked again")
    message = caught.value.messages[0]
    assert "already pending" in message and ACTION in message
    assert "In progress" in message and consultant.display_name in message
    assert list(Approval.objects.filter(ticket=ticket)) == [first]


def test_it_allows_another_move_an_expired_one_or_after_an_answer(
    mailable, ticket, consultant, coordinator
):
    first = _ask(ticket, consultant)
    _ask(ticket, consultant, target=Status.RELEASED)  # another move
    Approval.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    second = _ask(ticket, consultant)  # the first can no longer be answered
    approvals.decide(approval=second, user=coordinator, approve=False, via=Approval.Via.PORTAL)
    _ask(ticket, consultant)  # declined: the agent may ask again
    assert Approval.objects.filter(ticket=ticket).count() == 4


def test_it_refuses_the_same_targetless_approval_twice_but_not_a_different_one(
    mailable, ticket, consultant
):
    _ask(ticket, consultant, target="")
    with pytest.raises(ValidationError, match="already pending"):
        _ask(ticket, consultant, target="")
    _ask(ticket, consultant, target="", action="Restart the print server")


def test_the_console_form_shows_why_a_second_approval_is_refused(
    mailable, ticket, consultant, client_for
):
    _ask(ticket, consultant)
    url = reverse("console:ticket", args=[ticket.number])
    response = client_for(consultant).post(
        url, {"action": "approval", "action_text": "Again", "target_status": "in_progress"}
    )
    assert response.status_code == 400
    assert "already pending" in response.content.decode()
    assert Approval.objects.filter(ticket=ticket).count() == 1


def test_taking_back_an_answer_still_asks_again(mailable, ticket, consultant, coordinator):
    first = _ask(ticket, consultant)
    approvals.decide(approval=first, user=coordinator, approve=False, via=Approval.Via.PORTAL)
    again = approvals.undo_decision(approval=first, actor=consultant, reason="Misread")
    assert again.state == Approval.State.PENDING


# -- the approvals page and the badge ----------------------------------------------------


def test_the_coordinator_sees_the_badge_and_the_list(
    mailable, ticket, teammate, org, consultant, coordinator, client_for
):
    theirs = ticket_for(teammate, org, subject="Teammate's printer")
    _ask(ticket, consultant)
    _ask(theirs, consultant, action="Replace the printer driver")
    c = client_for(coordinator)
    home = c.get(reverse("portal:list")).content.decode()
    assert 'id="nav-approvals"' in home and '<span class="nav-count"' in home
    assert ">2<" in home.split('id="nav-approvals"')[1].split("</a>")[0]
    assert 'id="approvals-notice"' in home and "2 approvals await your answer" in home
    page = c.get(APPROVALS)
    assert page.status_code == 200
    assert [a.ticket for a in page.context["pending"]] == [ticket, theirs]
    body = page.content.decode()
    assert ACTION in body and "Replace the printer driver" in body
    assert body.count('value="approve"') == 2


def test_the_coordinator_answers_from_the_list(
    mailable, ticket, consultant, coordinator, client_for
):
    asked = _ask(ticket, consultant)
    c = client_for(coordinator)
    response = c.post(APPROVALS, {"action": "approve", "approval": asked.pk, "note": "go"})
    assert response.status_code == 302 and response["Location"] == APPROVALS
    asked.refresh_from_db()
    assert (asked.state, asked.decided_via, asked.decision_note) == ("approved", "portal", "go")
    page = c.get(APPROVALS)
    assert page.context["pending"] == [] and page.context["answered"] == [asked]
    assert '<span class="nav-count"' not in page.content.decode()


def test_a_teammate_sees_no_approvals_of_others_and_cannot_answer(
    mailable, ticket, teammate, consultant, client_for
):
    asked = _ask(ticket, consultant)
    c = client_for(teammate)
    page = c.get(APPROVALS)
    assert page.status_code == 200
    body = page.content.decode()
    assert ACTION not in body and ticket.number not in body
    assert 'id="nav-approvals"' not in body
    c.post(APPROVALS, {"action": "approve", "approval": asked.pk})
    asked.refresh_from_db()
    assert asked.state == Approval.State.PENDING


def test_the_reporter_sees_the_approval_on_their_request_but_the_coordinator_answers(
    mailable, ticket, owner, consultant, client_for
):
    asked = _ask(ticket, consultant)
    c = client_for(owner)
    page = c.get(APPROVALS)
    assert [a.pk for a in page.context["pending"]] == [asked.pk]
    assert 'value="approve"' not in page.content.decode()
    c.post(APPROVALS, {"action": "approve", "approval": asked.pk})
    asked.refresh_from_db()
    assert asked.state == Approval.State.PENDING


def test_an_outsider_sees_and_answers_nothing_of_another_organisation(
    mailable, ticket, outsider, consultant, client_for
):
    asked = _ask(ticket, consultant)
    c = client_for(outsider)
    page = c.get(APPROVALS)
    assert page.context["pending"] == [] and page.context["answered"] == []
    assert ACTION not in page.content.decode()
    assert '<span class="nav-count"' not in c.get(reverse("portal:list")).content.decode()
    c.post(APPROVALS, {"action": "approve", "approval": asked.pk})
    asked.refresh_from_db()
    assert asked.state == Approval.State.PENDING


def test_a_forged_answer_is_refused_without_an_error(
    mailable, ticket, consultant, coordinator, client_for
):
    asked = _ask(ticket, consultant)
    c = client_for(coordinator)
    for data in ({"action": "approve", "approval": "1 OR 1=1"}, {"action": "delete"}, {}):
        response = c.post(APPROVALS, data)
        assert response.status_code == 302
    asked.refresh_from_db()
    assert asked.state == Approval.State.PENDING


def test_staff_are_sent_to_the_console(client_for, operator, manager):
    for user in (operator, manager):
        response = client_for(user).get(APPROVALS)
        assert response.status_code == 302 and response["Location"] == reverse("console:queue")


def test_an_anonymous_visitor_is_asked_to_sign_in(client):
    response = client.get(APPROVALS)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_list_takes_a_fixed_number_of_queries(
    mailable, owner, org, consultant, coordinator, client_for, django_assert_max_num_queries
):
    for i in range(6):
        _ask(ticket_for(owner, org, subject=f"Request {i}"), consultant)
    c = client_for(coordinator)
    c.get(APPROVALS)
    with django_assert_max_num_queries(25):
        c.get(APPROVALS)


# -- accept and reopen -------------------------------------------------------------------


def test_a_released_request_offers_two_clear_buttons(client_for, ticket, owner, consultant):
    _released(ticket, consultant)
    body = client_for(owner).get(reverse("portal:detail", args=[ticket.number])).content.decode()
    assert "Accept the solution" in body and "Still a problem — reopen" in body
    assert 'name="reason" rows="4" required' in body
    assert 'id="decision-form"' not in body  # no second, generic form for the same moves


def test_the_accept_button_archives_and_reopen_needs_a_reason(
    client_for, ticket, owner, consultant
):
    _released(ticket, consultant)
    url = reverse("portal:detail", args=[ticket.number])
    c = client_for(owner)
    refused = c.post(
        url, {"action": "transition", "target": "in_progress", "reason": " ", "version": ""}
    )
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "Please give a reason" in body and '<details class="reopen" id="reopen" open>' in body
    c.post(url, {"action": "transition", "target": "in_progress", "reason": "Still fails"})
    assert Ticket.objects.get(pk=ticket.pk).status == Status.IN_PROGRESS
    other = _released(ticket_for(owner, ticket.organisation), consultant)
    c.post(
        reverse("portal:detail", args=[other.number]),
        {"action": "transition", "target": "archived", "version": other.version},
    )
    assert Ticket.objects.get(pk=other.pk).status == Status.ARCHIVED


def test_no_buttons_before_release(client_for, ticket, owner):
    body = client_for(owner).get(reverse("portal:detail", args=[ticket.number])).content.decode()
    assert "Accept the solution" not in body
    assert status_help.explain(Status.BACKLOG, Category.INCIDENT) in body


@pytest.mark.parametrize(
    ("category", "words"),
    [
        (Category.INCIDENT, "delivered to your system"),
        (Category.CONSULTATION, "sent you our answer"),
        (Category.DOCUMENTATION, "document has been handed over"),
    ],
)
def test_the_status_is_explained_in_the_customers_words(
    client_for, owner, org, consultant, category, words
):
    ticket = _released(ticket_for(owner, org, category=category), consultant)
    body = client_for(owner).get(reverse("portal:detail", args=[ticket.number])).content.decode()
    assert words in body


def test_every_status_has_an_explanation_for_every_category():
    for status in Status.values:
        for category in Category.values:
            assert status_help.explain(status, category)
    assert status_help.explain(Status.DONE, Category.CONSULTATION) != status_help.explain(
        Status.DONE, Category.INCIDENT
    )
