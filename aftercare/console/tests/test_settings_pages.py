"""The console's settings pages: who enters which section, what they may change, the
audit, write-only secrets, validation, maintenance mode and bounded queries.

The cast: operator, consultant and developer (refused), manager, administrator, a
manager restricted to ``org`` (refused the global sections: 403 for their pages, 404 for
an address naming one of their objects, as the security walk wants; never sees
``other_org``'s people or the organisation itself), a customer user and a coordinator (refused).
"""

from __future__ import annotations

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from aftercare.accounts.models import User
from aftercare.accounts.roles import GROUP_NAMES, Role
from aftercare.desk.models import CannedAnswer
from aftercare.mail.models import Mailbox
from aftercare.sla.models import Calendar, CalendarException, SlaPlan, SlaTarget
from aftercare.tenancy.models import AgentRestriction, Membership, Organisation
from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff
from aftercare.webhooks.models import Subscription

SECRET_PASSWORD = "imap-Pa55-never-shown"  # noqa: S105 - a test value
PUBLIC_URL = "https://93.184.215.14/hook"  # an IP literal: checked without the network

SECTIONS = ["sla-plans", "calendars", "canned", "mailboxes", "webhooks", "users", "organisations"]
GLOBAL_SECTIONS = ["sla-plans", "calendars", "mailboxes", "webhooks"]


def url(name: str, *args) -> str:
    return reverse(f"console:settings-{name}", args=args)


@pytest.fixture
def admin(db):
    return staff(Role.ADMIN, username="administrator")


@pytest.fixture
def restricted_manager(org):
    user = staff(Role.MANAGER, username="restricted")
    AgentRestriction.objects.create(user=user, organisation=org)
    return user


@pytest.fixture
def mailbox(db):
    return Mailbox.objects.create(
        name="Support",
        address="support@vendor.example",
        host="127.0.0.1",
        port=1,
        security=Mailbox.Security.NONE,
        username="support",
        password=SECRET_PASSWORD,
    )


@pytest.fixture
def webhook(other_org):
    return Subscription.objects.create(
        name="Beta ERP", organisation=other_org, target_url=PUBLIC_URL, events=["ticket.created"]
    )


@pytest.fixture
def calendar(db):
    return Calendar.objects.create(name="Bucharest office", time_zone="Europe/Bucharest")


# -- who enters -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["operator", "consultant", "developer", "owner", "coordinator"])
def test_it_refuses_staff_without_the_rights_and_customers_everywhere(db, request, client_for, who):
    client = client_for(request.getfixturevalue(who))
    assert client.get(reverse("console:settings")).status_code == 403
    for section in SECTIONS:
        assert client.get(url(section)).status_code == 403, section
        assert client.get(url(f"{section}-new")).status_code == 403, section
    plan = SlaPlan.objects.get(is_default=True)
    assert client.post(url("sla-plans-edit", plan.pk), {"name": "Taken"}).status_code == 403
    assert client.get(url("sla-plans-targets", plan.pk)).status_code == 403


def test_the_console_menu_offers_settings_only_to_managers_and_administrators(
    client_for, operator, manager, admin, restricted_manager
):
    link = f'href="{reverse("console:settings")}"'
    assert link not in client_for(operator).get(reverse("console:queue")).content.decode()
    for user in (manager, admin, restricted_manager):
        assert link in client_for(user).get(reverse("console:queue")).content.decode()


def test_a_manager_opens_every_section_but_webhooks(client_for, manager, calendar, mailbox):
    client = client_for(manager)
    home = client.get(reverse("console:settings"))
    assert home.status_code == 200
    assert url("webhooks") not in home.content.decode()
    for section in SECTIONS:
        expected = 403 if section == "webhooks" else 200
        assert client.get(url(section)).status_code == expected, section
        assert client.get(url(f"{section}-new")).status_code == expected, section
    plan = SlaPlan.objects.get(is_default=True)
    assert client.get(url("sla-plans-edit", plan.pk)).status_code == 200
    assert client.get(url("sla-plans-targets", plan.pk)).status_code == 200
    assert client.get(url("calendars-edit", calendar.pk)).status_code == 200
    assert client.get(url("mailboxes-edit", mailbox.pk)).status_code == 200


def test_an_administrator_opens_every_section(client_for, admin, webhook, mailbox, owner):
    client = client_for(admin)
    for section in SECTIONS:
        assert client.get(url(section)).status_code == 200, section
        assert client.get(url(f"{section}-new")).status_code == 200, section
    assert client.get(url("webhooks-edit", webhook.pk)).status_code == 200
    assert client.get(url("users-edit", owner.pk)).status_code == 200


def test_a_restricted_manager_is_refused_the_global_sections(
    client_for, restricted_manager, calendar, mailbox, webhook
):
    client = client_for(restricted_manager)
    home = client.get(reverse("console:settings"))
    assert home.status_code == 200
    page = home.content.decode()
    for section in GLOBAL_SECTIONS:
        assert url(section) not in page, section
        assert client.get(url(section)).status_code == 403, section
        assert client.get(url(f"{section}-new")).status_code == 403, section
    plan = SlaPlan.objects.get(is_default=True)
    for target in (
        url("sla-plans-edit", plan.pk),
        url("sla-plans-targets", plan.pk),
        url("calendars-edit", calendar.pk),
        url("mailboxes-edit", mailbox.pk),
        url("webhooks-edit", webhook.pk),
    ):
        # An address naming a global object: it does not exist for them (the walk's rule).
        assert client.get(target).status_code == 404, target
        assert client.post(target, {"name": "Hijacked"}).status_code == 404, target
    assert client.post(url("mailboxes-test", mailbox.pk)).status_code == 404
    assert client.post(url("webhooks-secret", webhook.pk)).status_code == 404
    assert SlaPlan.objects.get(pk=plan.pk).name != "Hijacked"


def test_a_restricted_manager_keeps_only_personal_canned_answers(
    client_for, restricted_manager, manager
):
    shared = CannedAnswer.objects.create(title="Shared hello", body="Hi", shared=True)
    theirs = CannedAnswer.objects.create(
        title="Margot's own", body="x", shared=False, owner=manager
    )
    client = client_for(restricted_manager)
    page = client.get(url("canned")).content.decode()
    assert "Shared hello" not in page and "Margot" not in page
    assert client.get(url("canned-edit", shared.pk)).status_code == 404
    assert client.get(url("canned-edit", theirs.pk)).status_code == 404
    response = client.post(
        url("canned-new"), {"title": "Mine", "body": "Hello", "shared": "on", "language": ""}
    )
    assert response.status_code == 302
    mine = CannedAnswer.objects.get(title="Mine")
    assert not mine.shared and mine.owner == restricted_manager


# -- restricted managers and the other organisation --------------------------------------


def test_a_restricted_manager_never_sees_nor_edits_another_organisations_people(
    client_for, restricted_manager, org, other_org, owner, outsider
):
    both = customer(org, username="straddler", email="straddler@example.test")
    Membership.objects.create(user=both, organisation=other_org)
    client = client_for(restricted_manager)
    page = client.get(url("users")).content.decode()
    assert owner.email in page
    assert outsider.email not in page and "Beta Logistics" not in page
    assert "straddler" not in page  # also in Beta: not theirs to edit
    for person in (outsider, both, restricted_manager):
        assert client.get(url("users-edit", person.pk)).status_code == 404
        response = client.post(url("users-edit", person.pk), {"email": "x@evil.example"})
        assert response.status_code == 404
    assert User.objects.get(pk=outsider.pk).email == outsider.email
    assert "Nobody found." in client.get(url("users") + "?q=outsider").content.decode()


def test_a_restricted_manager_edits_only_their_organisations(
    client_for, restricted_manager, org, other_org
):
    client = client_for(restricted_manager)
    page = client.get(url("organisations")).content.decode()
    assert "Alpha Foods" in page and "Beta Logistics" not in page
    assert client.get(url("organisations-edit", other_org.code)).status_code == 404
    response = client.post(
        url("organisations-edit", other_org.code), _org_data(other_org, name="X")
    )
    assert response.status_code == 404
    assert Organisation.objects.get(pk=other_org.pk).name == "Beta Logistics"
    assert client.get(url("organisations-new")).status_code == 403
    response = client.post(
        url("organisations-edit", org.code), _org_data(org, name="Alpha Foods SA")
    )
    assert response.status_code == 302
    assert Organisation.objects.get(pk=org.pk).name == "Alpha Foods SA"


def test_a_restricted_manager_cannot_give_a_membership_elsewhere(
    client_for, restricted_manager, org, other_org
):
    client = client_for(restricted_manager)
    data = _user_data(username="newbie", email="newbie@alpha.example")
    data["member_of"] = [other_org.pk]
    response = client.post(url("users-new"), data)
    assert response.status_code == 400
    assert not User.objects.filter(username="newbie").exists()
    data["member_of"] = [org.pk]
    data["staff_role"] = Role.ADMIN
    assert client.post(url("users-new"), data).status_code == 302
    created = User.objects.get(username="newbie")
    assert not created.groups.exists()
    assert list(Membership.objects.filter(user=created).values_list("organisation", flat=True)) == [
        org.pk
    ]


# -- users and roles --------------------------------------------------------------------


def _user_data(**overrides) -> dict:
    data = {
        "username": "ioana",
        "first_name": "Ioana",
        "last_name": "Pop",
        "email": "ioana@alpha.example",
        "phone": "",
        "language": "ro",
        "time_zone": "Europe/Bucharest",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_a_manager_invites_a_customer_user(client_for, manager, org):
    client = client_for(manager)
    data = _user_data(invite="on", coordinator_of=[org.pk])
    response = client.post(url("users-new"), data)
    assert response.status_code == 302
    user = User.objects.get(username="ioana")
    assert not user.has_usable_password()
    assert Membership.objects.get(user=user).role == Role.COORDINATOR
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ioana@alpha.example"]
    assert "/password/reset/" in mail.outbox[0].body or "reset" in mail.outbox[0].body
    entry = LogEntry.objects.get(object_id=str(user.pk), content_type__model="user")
    assert entry.action_flag == ADDITION and entry.user == manager


def test_a_new_customer_user_needs_an_organisation(client_for, manager):
    response = client_for(manager).post(url("users-new"), _user_data())
    assert response.status_code == 400
    assert "Tick at least one organisation" in response.content.decode()
    assert 'value="ioana@alpha.example"' in response.content.decode()  # input kept


def test_a_manager_cannot_make_anyone_an_administrator_nor_edit_staff(
    client_for, manager, admin, operator, owner, org
):
    client = client_for(manager)
    assert "staff_role" not in client.get(url("users-new")).content.decode()
    data = _user_data(staff_role=Role.ADMIN, member_of=[org.pk])
    assert client.post(url("users-new"), data).status_code == 302
    assert not User.objects.get(username="ioana").groups.exists()
    owner_data = _user_data(
        username=owner.username, email=owner.email, staff_role=Role.ADMIN, member_of=[org.pk]
    )
    assert client.post(url("users-edit", owner.pk), owner_data).status_code == 302
    assert not User.objects.get(pk=owner.pk).groups.exists()
    for person in (admin, operator, manager):
        page = client.get(url("users-edit", person.pk))
        assert page.status_code == 200
        assert "You may look at this but not change it." in page.content.decode()
        response = client.post(
            url("users-edit", person.pk),
            _user_data(username=person.username, email="taken@evil.example", is_active=""),
        )
        assert response.status_code == 403
        assert User.objects.get(pk=person.pk).is_active


def test_an_administrator_grants_staff_roles_but_not_to_themselves(client_for, admin, org):
    client = client_for(admin)
    data = _user_data(username="newmanager", email="nm@vendor.example", staff_role=Role.MANAGER)
    data["restricted_to"] = [org.pk]
    assert client.post(url("users-new"), data).status_code == 302
    created = User.objects.get(username="newmanager")
    assert list(created.groups.values_list("name", flat=True)) == [GROUP_NAMES[Role.MANAGER]]
    assert AgentRestriction.objects.filter(user=created, organisation=org).exists()
    own = _user_data(
        username=admin.username, email=admin.email, staff_role=Role.OPERATOR, first_name="Ada"
    )
    assert client.post(url("users-edit", admin.pk), own).status_code == 302
    admin.refresh_from_db()
    assert admin.first_name == "Ada"
    assert admin.groups.filter(name=GROUP_NAMES[Role.ADMIN]).exists()
    assert not admin.groups.filter(name=GROUP_NAMES[Role.OPERATOR]).exists()
    own["is_active"] = ""
    assert client.post(url("users-edit", admin.pk), own).status_code == 403
    assert User.objects.get(pk=admin.pk).is_active


def test_nobody_grants_a_role_above_their_own(client_for, admin, org):
    """A posted role outside the offered choices is a form error, not a grant."""
    client = client_for(admin)
    data = _user_data(username="x", email="x@vendor.example", staff_role="superuser")
    assert client.post(url("users-new"), data).status_code == 400
    assert not User.objects.filter(username="x").exists()


def test_a_duplicate_email_is_shown_on_the_field(client_for, manager, owner, org):
    data = _user_data(email=owner.email.upper(), member_of=[org.pk])
    response = client_for(manager).post(url("users-new"), data)
    assert response.status_code == 400
    assert "Another account already uses this e-mail address." in response.content.decode()


# -- canned answers ---------------------------------------------------------------------


def test_a_manager_creates_previews_edits_and_deletes_a_canned_answer(client_for, manager):
    client = client_for(manager)
    body = "Hello {{reporter.first_name}}, about {{ticket.number}}. {{unknown.name}}"
    preview = client.post(
        url("canned-new"), {"title": "Greeting", "body": body, "shared": "on", "_preview": "1"}
    )
    assert preview.status_code == 200
    text = preview.content.decode()
    assert "Hello Maria, about AC-2026-000123. {{unknown.name}}" in text
    assert not CannedAnswer.objects.exists()
    created = client.post(
        url("canned-new"),
        {"title": "Greeting", "body": body, "shared": "on", "set_status": "waiting"},
    )
    assert created.status_code == 302
    answer = CannedAnswer.objects.get()
    assert answer.shared and answer.owner is None and answer.set_status == "waiting"
    response = client.post(
        url("canned-edit", answer.pk),
        {"title": "Greeting 2", "body": body, "shared": "", "set_priority": "2"},
    )
    assert response.status_code == 302
    answer.refresh_from_db()
    assert (answer.title, answer.shared, answer.owner, answer.set_priority) == (
        "Greeting 2",
        False,
        manager,
        2,
    )
    change = LogEntry.objects.filter(action_flag=CHANGE).get()
    assert "Title" in change.get_change_message()
    assert client.get(url("canned-delete", answer.pk)).status_code == 200  # confirmation
    assert client.post(url("canned-delete", answer.pk)).status_code == 302
    assert not CannedAnswer.objects.exists()
    assert LogEntry.objects.filter(action_flag=DELETION, object_repr="Greeting 2").exists()


def test_an_invalid_canned_answer_shows_errors_and_keeps_the_input(client_for, manager):
    response = client_for(manager).post(url("canned-new"), {"title": "", "body": "Kept text"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required." in page
    assert "Kept text" in page
    assert 'aria-invalid="true"' in page


# -- SLA plans, targets, calendars ------------------------------------------------------


def _plan_data(**overrides) -> dict:
    data = {
        "name": "Gold",
        "calendar": "",
        "first_response": "reply",
        "warn_percent": "75",
        "escalate_to_l2": "on",
    }
    data.update(overrides)
    return data


def test_a_manager_creates_a_plan_and_sees_errors_inline(client_for, manager):
    client = client_for(manager)
    bad = client.post(url("sla-plans-new"), _plan_data(warn_percent="150", name="Gold kept"))
    assert bad.status_code == 400
    assert "Between 1 and 99." in bad.content.decode()
    assert 'value="Gold kept"' in bad.content.decode()
    both = client.post(
        url("sla-plans-new"), _plan_data(pause_statuses=["waiting"], stop_statuses=["waiting"])
    )
    assert both.status_code == 400
    assert "cannot both pause and stop" in both.content.decode()
    assert client.post(url("sla-plans-new"), _plan_data(is_default="on")).status_code == 302
    gold = SlaPlan.objects.get(name="Gold")
    assert list(SlaPlan.objects.filter(is_default=True)) == [gold]  # one default
    assert LogEntry.objects.filter(object_id=str(gold.pk), action_flag=ADDITION).exists()


def test_the_default_plan_cannot_be_deleted(client_for, manager):
    plan = SlaPlan.objects.get(is_default=True)
    response = client_for(manager).post(url("sla-plans-delete", plan.pk))
    assert response.status_code == 409
    assert SlaPlan.objects.filter(pk=plan.pk).exists()


def test_a_manager_edits_a_plans_targets_as_one_grid(client_for, manager):
    plan = SlaPlan.objects.create(name="Gold")
    client = client_for(manager)
    target_url = url("sla-plans-targets", plan.pk) + "?category=incident"
    bad = client.post(target_url, {"first_1": "30", "resolution_1": "", "first_2": "60"})
    assert bad.status_code == 400
    assert "Give both times" in bad.content.decode()
    assert not SlaTarget.objects.filter(plan=plan).exists()
    shorter = client.post(target_url, {"first_1": "30", "resolution_1": "10"})
    assert "cannot be shorter" in shorter.content.decode()
    ok = client.post(
        target_url,
        {
            "first_1": "30",
            "resolution_1": "240",
            "around_1": "on",
            "first_3": "240",
            "resolution_3": "2400",
        },
    )
    assert ok.status_code == 302
    rows = {
        (t.priority, t.category): (
            t.first_response_minutes,
            t.resolution_minutes,
            t.around_the_clock,
        )
        for t in SlaTarget.objects.filter(plan=plan)
    }
    assert rows == {(1, "incident"): (30, 240, True), (3, "incident"): (240, 2400, False)}
    entry = LogEntry.objects.get(object_id=str(plan.pk), action_flag=CHANGE)
    assert "Targets" in entry.get_change_message()
    assert client.post(target_url, {"first_1": "30", "resolution_1": "240"}).status_code == 302
    assert SlaTarget.objects.filter(plan=plan).count() == 1  # an emptied row is removed


def test_a_manager_sets_a_calendars_hours_and_extra_days(client_for, manager):
    client = client_for(manager)
    data = {
        "name": "Kyiv",
        "time_zone": "Europe/Kyiv",
        "country": "UA",
        "subdivision": "",
        "day_0": "09:00-13:00, 14:00-18:00",
        "day_5": "10:00-12:00",
        "days_off": "2026-12-24 Christmas Eve\n2026-12-31",
        "working_days": "2026-12-27 09:00-13:00 Stock-taking",
    }
    bad = client.post(url("calendars-new"), {**data, "day_1": "18:00-09:00", "days_off": "soon"})
    assert bad.status_code == 400
    page = bad.content.decode()
    assert "must end after it starts" in page and "does not start with a date" in page
    assert 'value="18:00-09:00"' in page
    assert client.post(url("calendars-new"), data).status_code == 302
    cal = Calendar.objects.get(name="Kyiv")
    assert cal.hours == {"0": [["09:00", "13:00"], ["14:00", "18:00"]], "5": [["10:00", "12:00"]]}
    extra = {
        e.day.isoformat(): (e.kind, e.note) for e in CalendarException.objects.filter(calendar=cal)
    }
    assert extra == {
        "2026-12-24": ("off", "Christmas Eve"),
        "2026-12-31": ("off", ""),
        "2026-12-27": ("working", "Stock-taking"),
    }
    page = client.get(url("calendars-edit", cal.pk)).content.decode()
    assert "2026-12-27 09:00-13:00 Stock-taking" in page


# -- mailboxes --------------------------------------------------------------------------


def _mailbox_data(**overrides) -> dict:
    data = {
        "name": "Support",
        "address": "support@vendor.example",
        "host": "127.0.0.1",
        "port": "1",
        "security": "none",
        "username": "support",
        "password": "",
        "folder": "INBOX",
        "processed_folder": "",
        "default_organisation": "",
        "default_category": "incident",
        "batch_size": "50",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_the_mailbox_password_is_write_only(client_for, manager, mailbox):
    client = client_for(manager)
    pages = [
        client.get(url("mailboxes")),
        client.get(url("mailboxes-edit", mailbox.pk)),
        client.post(url("mailboxes-edit", mailbox.pk), _mailbox_data(port="0")),  # invalid
    ]
    assert pages[2].status_code == 400
    for page in pages:
        assert SECRET_PASSWORD not in page.content.decode()
    kept = client.post(url("mailboxes-edit", mailbox.pk), _mailbox_data(folder="Support"))
    assert kept.status_code == 302
    mailbox.refresh_from_db()
    assert (mailbox.folder, mailbox.password) == ("Support", SECRET_PASSWORD)
    entry = LogEntry.objects.get(object_id=str(mailbox.pk), action_flag=CHANGE)
    assert "Password" not in entry.get_change_message()
    client.post(url("mailboxes-edit", mailbox.pk), _mailbox_data(password="n3w-secret"))
    mailbox.refresh_from_db()
    assert mailbox.password == "n3w-secret"
    messages = " ".join(e.change_message for e in LogEntry.objects.all())
    assert "n3w-secret" not in messages and SECRET_PASSWORD not in messages


def test_testing_a_mailbox_connection_shows_the_error(client_for, manager, mailbox):
    response = client_for(manager).post(url("mailboxes-test", mailbox.pk), follow=True)
    page = response.content.decode()
    assert "Connection to 127.0.0.1 failed." in page
    assert SECRET_PASSWORD not in page


# -- webhooks ---------------------------------------------------------------------------


def test_webhooks_are_for_administrators_and_the_secret_is_shown_once(
    client_for, manager, admin, webhook, other_org
):
    assert client_for(manager).get(url("webhooks-edit", webhook.pk)).status_code == 403
    client = client_for(admin)
    data = {
        "name": "CRM",
        "organisation": "",
        "target_url": PUBLIC_URL,
        "events": ["comment.created"],
        "active": "on",
    }
    created = client.post(url("webhooks-new"), data)
    assert created.status_code == 200
    sub = Subscription.objects.get(name="CRM")
    assert sub.secret in created.content.decode()
    assert created["Cache-Control"] == "no-store"
    for page in (client.get(url("webhooks")), client.get(url("webhooks-edit", sub.pk))):
        assert sub.secret not in page.content.decode()
        assert webhook.secret not in page.content.decode()
    edited = client.post(url("webhooks-edit", sub.pk), {**data, "name": "CRM 2"})
    assert edited.status_code == 302 and sub.secret not in edited.content.decode()
    old = sub.secret
    rotated = client.post(url("webhooks-secret", sub.pk))
    sub.refresh_from_db()
    assert sub.secret != old and sub.secret in rotated.content.decode()
    messages = " ".join(e.change_message + e.object_repr for e in LogEntry.objects.all())
    assert old not in messages and sub.secret not in messages
    bad = client.post(url("webhooks-new"), {**data, "target_url": "http://127.0.0.1/x"})
    assert bad.status_code == 400


# -- organisations ----------------------------------------------------------------------


def _org_data(org: Organisation | None = None, **overrides) -> dict:
    data = {
        "name": org.name if org else "Gamma Retail",
        "code": org.code if org else "gamma",
        "country": org.country if org else "FR",
        "time_zone": org.time_zone if org else "Europe/Paris",
        "language": "en",
        "mail_domains": org.mail_domains if org else "",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_a_manager_creates_and_edits_an_organisation(client_for, manager, org):
    org.mail_domains = "alpha.example"
    org.save()
    client = client_for(manager)
    clash = client.post(
        url("organisations-new"), _org_data(mail_domains="Gamma.example, alpha.example")
    )
    assert clash.status_code == 400
    assert "Another organisation already lists alpha.example." in clash.content.decode()
    assert "Alpha Foods" not in clash.content.decode().split("<main")[1].split("settings-menu")[0]
    assert (
        client.post(url("organisations-new"), _org_data(mail_domains="Gamma.example")).status_code
        == 302
    )
    gamma = Organisation.objects.get(code="gamma")
    assert gamma.mail_domains == "gamma.example"
    response = client.post(url("organisations-edit", gamma.code), _org_data(gamma, is_active=""))
    assert response.status_code == 302
    assert not Organisation.objects.get(pk=gamma.pk).is_active
    assert LogEntry.objects.filter(object_id=str(gamma.pk)).count() == 2


# -- maintenance, audit on the home page, query counts ----------------------------------


def test_maintenance_mode_refuses_every_settings_post(client_for, manager, admin, mailbox):
    from aftercare.ops import maintenance

    maintenance.switch(True, message="Upgrade")
    try:
        client = client_for(manager)
        assert client.get(url("canned-new")).status_code == 200
        assert (
            client.post(url("canned-new"), {"title": "T", "body": "B", "shared": "on"}).status_code
            == 503
        )
        assert client.post(url("mailboxes-edit", mailbox.pk), _mailbox_data()).status_code == 503
        assert client.post(url("organisations-new"), _org_data()).status_code == 503
        assert client_for(admin).post(url("users-new"), _user_data()).status_code == 503
    finally:
        maintenance.switch(False)
    assert not CannedAnswer.objects.exists()
    assert not Organisation.objects.filter(code="gamma").exists()


def test_the_home_page_lists_recent_changes_a_person_may_see(
    client_for, manager, admin, restricted_manager, org
):
    client_for(manager).post(
        url("canned-new"), {"title": "Hello all", "body": "Hi", "shared": "on"}
    )
    client_for(admin).post(
        url("webhooks-new"),
        {"name": "Secret hook", "target_url": PUBLIC_URL, "events": ["ticket.created"]},
    )
    page = client_for(manager).get(reverse("console:settings")).content.decode()
    assert "Hello all" in page and "Secret hook" not in page
    assert "Secret hook" in client_for(admin).get(reverse("console:settings")).content.decode()
    restricted_page = (
        client_for(restricted_manager).get(reverse("console:settings")).content.decode()
    )
    assert "Hello all" not in restricted_page


def test_list_pages_use_a_bounded_number_of_queries(
    client_for, admin, django_assert_max_num_queries
):
    orgs = OrganisationFactory.create_batch(15)
    operators = Group.objects.get(name=GROUP_NAMES[Role.OPERATOR])
    for i, organisation in enumerate(orgs):
        customer(organisation, username=f"c{i}", email=f"c{i}@example.test")
        staff(Role.OPERATOR, username=f"s{i}").groups.add(operators)
        CannedAnswer.objects.create(title=f"A{i}", body="x", shared=True)
        SlaPlan.objects.create(name=f"P{i}")
        Calendar.objects.create(name=f"C{i}", time_zone="UTC")
    client = client_for(admin)
    client.get(reverse("console:settings"))  # warm the session and content types
    for section in SECTIONS:
        with django_assert_max_num_queries(16):
            assert client.get(url(section)).status_code == 200


def test_the_settings_pages_load_outside_any_organisation_scope():
    """Form classes are built at import, where no scope is active (a generated
    organisation field would query the scoped manager there and fail at start-up)."""
    import os
    import subprocess
    import sys

    code = (
        "import django; django.setup(); "
        "from django_scopes import scope\n"
        "with scope(organisation=[]):\n"
        "    import aftercare.console.urls_settings"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "aftercare.settings"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)  # noqa: S603
