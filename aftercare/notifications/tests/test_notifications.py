"""The bell, mail choices, @mentions, watchers and CC: who is told, who is not, and the
pages that show it. Each test can fail both ways: the allowed are told, the barred not."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from aftercare.accounts.roles import Role
from aftercare.desk import services as desk
from aftercare.desk.models import Status
from aftercare.desk.tests.factories import ticket_for
from aftercare.mail.models import OutboundMail
from aftercare.notifications import services
from aftercare.notifications.models import Follower, MailChoice, Notification
from aftercare.ops import maintenance
from aftercare.ops.maintenance import MaintenanceError
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import customer, staff

pytestmark = pytest.mark.django_db


def restricted(role, username, *organisations):
    user = staff(role, username=username)
    for organisation in organisations:
        AgentRestriction.objects.create(user=user, organisation=organisation)
    return user


def told(ticket, kind=None) -> set[str]:
    rows = Notification.objects.filter(ticket=ticket)
    if kind:
        rows = rows.filter(kind=kind)
    return set(rows.values_list("user__username", flat=True))


def mailed(ticket, kind=None) -> set[str]:
    rows = OutboundMail.objects.filter(ticket=ticket).exclude(recipient=None)
    if kind:
        rows = rows.filter(kind=kind)
    return set(rows.values_list("recipient__username", flat=True))


# -- mentions ---------------------------------------------------------------------------


def test_a_mention_in_a_note_tells_the_colleague_in_the_app_and_by_mail(
    ticket, operator, consultant, manager, org, other_org
):
    restricted(Role.CONSULTANT, "b_agent", other_org)
    a_agent = restricted(Role.CONSULTANT, "a.agent", org)
    desk.reply(
        ticket=ticket,
        actor=operator,
        internal=True,
        body="@Consultant please look; cc @a.agent. and @b_agent, @nobody, mail@manager.example",
    )
    assert told(ticket, "mention") == {"consultant", "a.agent"}
    assert mailed(ticket, "mention") == {"consultant", "a.agent"}
    assert "b_agent" not in told(ticket) | mailed(ticket)  # restricted to another organisation
    assert "manager" not in told(ticket, "mention")  # an address is not a mention
    note = Notification.objects.get(user=consultant, kind="mention")
    assert note.actor == operator and "please look" in note.excerpt
    assert a_agent.pk in set(Notification.objects.values_list("user_id", flat=True))


def test_mentions_count_only_in_internal_notes_by_staff(ticket, operator, consultant, owner):
    desk.reply(ticket=ticket, actor=operator, body="Thanks, @consultant will call you.")
    desk.reply(ticket=ticket, actor=owner, body="@consultant any news?")
    assert told(ticket, "mention") == set()


def test_the_author_is_not_told_of_their_own_mention(ticket, operator):
    desk.reply(ticket=ticket, actor=operator, internal=True, body="note to self @operator")
    assert told(ticket, "mention") == set()


def test_the_mention_picker_offers_only_colleagues_who_may_see_the_request(
    ticket, operator, consultant, org, other_org, client_for, owner
):
    restricted(Role.CONSULTANT, "consultant_b", other_org)
    restricted(Role.CONSULTANT, "consultant_a", org)
    url = reverse("console:ticket-mentions", args=[ticket.number])
    names = {p["username"] for p in client_for(operator).get(url, {"q": "consul"}).json()["people"]}
    assert names == {"consultant", "consultant_a"}
    assert client_for(owner).get(url).status_code == 403
    b_operator = restricted(Role.OPERATOR, "b_operator", other_org)
    assert client_for(b_operator).get(url).status_code == 404


# -- the bell -----------------------------------------------------------------------------


def test_the_bell_counts_unread_and_opening_one_marks_it_read(
    ticket, operator, consultant, client_for, owner, org
):
    other = ticket_for(owner, org, subject="Another one")
    desk.assign(ticket=other, actor=operator, assignee=consultant)
    desk.reply(ticket=ticket, actor=operator, internal=True, body="@consultant urgent")
    client = client_for(consultant)
    page = client.get(reverse("console:queue")).content.decode()
    assert 'class="bell has-unread"' in page and 'class="bell-count" aria-hidden="true">2<' in page
    mention = Notification.objects.get(user=consultant, kind="mention")
    response = client.get(reverse("notifications:open", args=[mention.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("console:ticket", args=[ticket.number])
    assert services.unread_count(consultant) == 1  # the other request's is still unread
    # Opening a request's notification reads every notice of that request.
    desk.reply(ticket=other, actor=operator, internal=True, body="@consultant and here")
    assert services.unread_count(consultant) == 2
    newest = Notification.objects.filter(user=consultant, ticket=other, kind="mention").get()
    client.get(reverse("notifications:open", args=[newest.pk]))
    assert services.unread_count(consultant) == 0
    desk.reply(ticket=other, actor=operator, internal=True, body="@consultant once more")
    client.post(reverse("notifications:inbox"))
    assert services.unread_count(consultant) == 0
    assert "bell-count" not in client.get(reverse("console:queue")).content.decode()


def test_nobody_opens_or_marks_someone_elses_notification(
    ticket, operator, consultant, manager, client_for
):
    desk.assign(ticket=ticket, actor=operator, assignee=consultant)
    theirs = Notification.objects.get(user=consultant)
    client = client_for(manager)
    assert client.get(reverse("notifications:open", args=[theirs.pk])).status_code == 404
    client.post(reverse("notifications:read"), {"ids": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_inbox_hides_what_the_reader_may_no_longer_see(
    ticket, operator, consultant, org, other_org, client_for
):
    a_agent = restricted(Role.CONSULTANT, "a_agent", org)
    desk.assign(ticket=ticket, actor=operator, assignee=a_agent)
    client = client_for(a_agent)
    assert [n.ticket_id for n in client.get(reverse("notifications:inbox")).context["rows"]] == [
        ticket.pk
    ]
    AgentRestriction.objects.filter(user=a_agent).update(organisation=other_org)
    response = client.get(reverse("notifications:inbox"))
    assert response.context["rows"] == [] and ticket.number not in response.content.decode()
    assert services.unread_count(a_agent) == 0


def test_customers_have_a_bell_in_the_portal_layout(ticket, consultant, owner, client_for):
    desk.reply(ticket=ticket, actor=consultant, body="Please try again now.")
    client = client_for(owner)
    response = client.get(reverse("notifications:inbox"))
    html = response.content.decode()
    assert response.status_code == 200 and "portal" in response.templates[1].name
    assert ticket.number in html and "Please try again now." in html
    link = response.context["rows"][0].url
    assert client.get(link)["Location"] == reverse("portal:detail", args=[ticket.number])


# -- mail choices ---------------------------------------------------------------------------


def test_a_kind_turned_off_still_rings_the_bell_but_sends_no_mail(
    ticket, operator, consultant, client_for
):
    client = client_for(consultant)
    page = client.get(reverse("notifications:settings"))
    assert 'value="assigned" checked' in page.content.decode()
    wanted = [k for k, _label, _on in page.context["rows"] if k != "assigned"]
    client.post(reverse("notifications:settings"), {"mail": wanted})
    assert MailChoice.objects.get(user=consultant, kind="assigned").by_mail is False
    desk.assign(ticket=ticket, actor=operator, assignee=consultant)
    assert told(ticket, "assigned") == {"consultant"}
    assert mailed(ticket, "assigned") == set()
    desk.reply(ticket=ticket, actor=operator, internal=True, body="@consultant see")
    assert mailed(ticket, "mention") == {"consultant"}  # still on


def test_approval_requests_cannot_be_turned_off(owner):
    services.set_mail_choices(owner, {"approval": False, "reply": False})
    assert not MailChoice.objects.filter(kind="approval").exists()
    assert services.wants_mail(owner, "approval") and not services.wants_mail(owner, "reply")


def test_settings_are_refused_in_maintenance(owner):
    maintenance.switch(True, message="", by="tests")
    with pytest.raises(MaintenanceError):
        services.set_mail_choices(owner, {"reply": False})


# -- watchers and CC ----------------------------------------------------------------------


def test_a_watcher_is_told_of_replies_notes_and_status_changes(
    ticket, operator, consultant, developer, owner
):
    services.follow(ticket=ticket, actor=operator, user=developer)
    assert told(ticket, "followed") == {"developer"}
    desk.reply(ticket=ticket, actor=owner, body="It broke again.")
    desk.reply(ticket=ticket, actor=consultant, internal=True, body="Looking at the logs.")
    desk.transition(ticket=ticket, actor=consultant, target=Status.IN_PROGRESS)
    assert told(ticket, "update_reply") == {"developer"}
    assert told(ticket, "update_note") == {"developer"}
    assert told(ticket, "update_status") == {"developer"}
    services.unfollow(ticket=ticket, actor=developer, user=developer)
    desk.reply(ticket=ticket, actor=owner, body="Still broken.")
    assert Notification.objects.filter(user=developer, kind="update_reply").count() == 1


def test_watchers_must_be_staff_who_may_see_the_request(
    ticket, operator, owner, teammate, other_org
):
    b_agent = restricted(Role.CONSULTANT, "b_agent", other_org)
    with pytest.raises(ValidationError):
        services.follow(ticket=ticket, actor=operator, user=b_agent)
    with pytest.raises(PermissionDenied):  # a customer does not add staff
        services.follow(ticket=ticket, actor=owner, user=operator)
    with pytest.raises(PermissionDenied):  # an agent who may not see it adds nobody
        services.follow(ticket=ticket, actor=b_agent, user=b_agent)
    assert not Follower.objects.exists()


def test_a_cc_contact_sees_the_request_and_is_told_like_the_reporter(
    ticket, operator, consultant, owner, teammate, client_for
):
    portal = client_for(teammate)
    detail = reverse("portal:detail", args=[ticket.number])
    assert portal.get(detail).status_code == 404
    services.follow(ticket=ticket, actor=operator, user=teammate)
    assert Follower.objects.get(user=teammate).role == Follower.Role.CC
    assert portal.get(detail).status_code == 200
    desk.reply(ticket=ticket, actor=consultant, body="Fixed on our side.")
    desk.transition(ticket=ticket, actor=consultant, target=Status.IN_PROGRESS)
    assert "teammate" in told(ticket, "update_reply") & mailed(ticket, "update_reply")
    assert "teammate" in told(ticket, "update_status")
    desk.reply(ticket=ticket, actor=consultant, internal=True, body="internal only")
    assert "teammate" not in told(ticket, "update_note")


def test_cc_is_limited_to_contacts_of_the_requests_organisation(
    ticket, operator, owner, outsider, other_org, teammate
):
    with pytest.raises(ValidationError):
        services.follow(ticket=ticket, actor=operator, user=outsider)
    with pytest.raises(ValidationError):
        services.follow(ticket=ticket, actor=operator, user=owner)  # the reporter already is
    # A customer copies a colleague on their own request; another customer may not.
    other = customer(ticket.organisation, username="third")
    with pytest.raises(PermissionDenied):
        services.follow(ticket=ticket, actor=other, user=teammate)
    services.follow(ticket=ticket, actor=owner, user=teammate)
    assert set(Follower.objects.values_list("user__username", flat=True)) == {"teammate"}


def test_following_is_refused_in_maintenance(ticket, operator, developer):
    maintenance.switch(True, message="", by="tests")
    with pytest.raises(MaintenanceError):
        services.follow(ticket=ticket, actor=operator, user=developer)


def test_the_people_panel_adds_and_removes_as_each_role_may(
    ticket, operator, developer, teammate, owner, other_org, client_for
):
    url = reverse("console:ticket-people", args=[ticket.number])
    assert client_for(owner).post(url, {"op": "watch"}).status_code == 403
    b_agent = restricted(Role.OPERATOR, "b_op", other_org)
    assert client_for(b_agent).post(url, {"op": "watch"}).status_code == 404
    client = client_for(developer)
    assert client.post(url, {"op": "watch"}).status_code == 302
    assert client.post(url, {"op": "add", "user": teammate.pk}).status_code == 302
    page = client.get(reverse("console:ticket", args=[ticket.number])).content.decode()
    assert 'id="unwatch"' in page and teammate.display_name in page
    client.post(url, {"op": "remove", "user": teammate.pk})
    client.post(url, {"op": "unwatch"})
    assert not Follower.objects.exists()
    response = client.post(url, {"op": "add", "user": b_agent.pk}, follow=True)
    assert "may not see" in response.content.decode()


# -- reopening and merging ------------------------------------------------------------------


def test_a_reopening_by_the_customer_reaches_the_assignee_at_once(
    ticket, operator, consultant, owner
):
    desk.assign(ticket=ticket, actor=operator, assignee=consultant)
    for target in (Status.IN_PROGRESS, Status.DONE, Status.RELEASED):
        desk.transition(ticket=ticket, actor=consultant, target=target)
    desk.transition(ticket=ticket, actor=owner, target=Status.IN_PROGRESS, reason="Still fails.")
    assert told(ticket, "reopened") == {"consultant"}
    assert mailed(ticket, "reopened") == {"consultant"}
    assert "Still fails." in Notification.objects.get(kind="reopened").excerpt


def test_the_customers_of_both_sides_of_a_merge_are_told(owner, teammate, org, operator):
    from aftercare.desk.services import _event

    duplicate = ticket_for(owner, org, subject="Printer again")
    survivor = ticket_for(teammate, org, subject="Printer")
    _event(duplicate, operator, "desk.ticket.merged", field="merged_into", new=survivor.number)
    _event(survivor, operator, "desk.ticket.merge_received", old=duplicate.number)
    assert told(duplicate, "merged") == {"owner"} and mailed(duplicate, "merged") == {"owner"}
    assert told(survivor, "merge_received") == {"teammate"}
    text = OutboundMail.objects.get(kind="merged").body_text
    assert survivor.number in text


def test_the_inbox_pages_by_keyset(ticket, operator, consultant, client_for):
    from aftercare.notifications import views

    for i in range(views.PAGE + 3):
        desk.reply(ticket=ticket, actor=operator, internal=True, body=f"@consultant ping {i}")
    client = client_for(consultant)
    first = client.get(reverse("notifications:inbox"))
    assert len(first.context["rows"]) == views.PAGE and first.context["older"]
    second = client.get(reverse("notifications:inbox"), {"before": first.context["older"]})
    seen = {n.pk for n in first.context["rows"]} | {n.pk for n in second.context["rows"]}
    assert len(second.context["rows"]) == 3 and second.context["older"] is None
    assert len(seen) == views.PAGE + 3


def test_the_reporter_copies_a_colleague_from_the_portal_and_others_may_not(
    ticket, owner, teammate, coordinator, outsider, client_for
):
    from aftercare.tenancy.tests.factories import customer as make_customer

    url = reverse("portal:people", args=[ticket.number])
    detail = reverse("portal:detail", args=[ticket.number])
    page = client_for(owner).get(detail).content.decode()
    assert 'id="add-cc"' in page and teammate.display_name in page
    assert outsider.display_name not in page  # another organisation's people are not offered
    refused = client_for(owner).post(url, {"op": "add", "user": outsider.pk}, follow=True)
    assert "Only contacts of" in refused.content.decode()
    assert client_for(outsider).post(url, {"op": "add", "user": outsider.pk}).status_code == 404
    client_for(owner).post(url, {"op": "add", "user": teammate.pk})
    assert Follower.objects.filter(user=teammate, role=Follower.Role.CC).exists()
    # The copied colleague sees it, but does not copy others; they may leave.
    third = make_customer(ticket.organisation, username="third")
    mate_page = client_for(teammate).get(detail).content.decode()
    assert 'id="add-cc"' not in mate_page
    client_for(teammate).post(url, {"op": "add", "user": third.pk})
    assert not Follower.objects.filter(user=third).exists()
    client_for(coordinator).post(url, {"op": "add", "user": third.pk})
    assert Follower.objects.filter(user=third).exists()
    client_for(teammate).post(url, {"op": "remove", "user": teammate.pk})
    assert not Follower.objects.filter(user=teammate).exists()
    assert client_for(teammate).get(detail).status_code == 404


def test_mentions_are_marked_in_notes_and_the_text_stays_escaped():
    from aftercare.notifications.templatetags.mentions import mentions

    html = mentions("<b>@olga</b> & mail@host.example, (@ivan.p). Ask @dan.")
    assert html == (
        '&lt;b&gt;<span class="mention">@olga</span>&lt;/b&gt; &amp; mail@host.example, '
        '(<span class="mention">@ivan.p</span>). Ask <span class="mention">@dan</span>.'
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/saas/7/", "/saas/7/"), ("//evil.example/x", "/"), ("https://evil.example/", "/")],
)
def test_a_notice_without_a_request_opens_its_own_page_on_this_site_only(
    consultant, client_for, path, expected
):
    from aftercare.notifications.models import Notification

    n = Notification.objects.create(
        user=consultant, kind="saas_quote", key=f"walk:{path}", params={"path": path}
    )
    response = client_for(consultant).get(reverse("notifications:open", args=[n.pk]))
    assert response.status_code == 302
    assert response["Location"] == expected
