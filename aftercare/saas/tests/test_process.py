"""Issue 15: the contact's portal account, the organisation's time zone, who is told,
the run window and dated ticks, the production environment, the mailed final statement."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core import mail as django_mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from aftercare.accounts.models import User
from aftercare.accounts.roles import Role
from aftercare.documents.testing import pdf_text
from aftercare.lifecycle.models import Environment, Party
from aftercare.mail.models import OutboundMail
from aftercare.notifications.models import Notification
from aftercare.saas import services
from aftercare.saas.models import STEP_ORDER, LineKind, Offer, Statement, StatementCounter, Step
from aftercare.saas.tests import factories as f
from aftercare.saas.zones import COUNTRY_ZONES, zone_for_country
from aftercare.tenancy.models import AgentRestriction, Membership, System
from aftercare.tenancy.tests.factories import customer, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(org):
    return f.lead(organisation=org)


@pytest.fixture
def admin(db):
    return staff(Role.ADMIN, username="admin")


def _today(org) -> date:
    return timezone.now().astimezone(org.zone).date()


# -- the country's time zone ------------------------------------------------------------------


def test_a_country_maps_to_its_time_zone_and_an_unknown_one_to_utc():
    assert zone_for_country("RO") == "Europe/Bucharest"
    assert zone_for_country("ua") == "Europe/Kyiv"
    assert zone_for_country(" fr ") == "Europe/Paris"
    assert zone_for_country("XX") == "UTC"
    assert zone_for_country("") == "UTC"
    for zone in COUNTRY_ZONES.values():
        zoneinfo.ZoneInfo(zone)  # every entry is a real zone


# -- the organisation and the contact's portal account -----------------------------------------


def test_the_new_organisation_gets_the_countrys_zone_and_the_contact_an_invitation(
    admin, django_capture_on_commit_callbacks
):
    lead = f.lead(
        email="Olga@Kyiv-Trade.example",
        company="Kyiv Trade",
        contact_name="Olga Shevchenko",
        language="uk",
        country="UA",
    )
    django_mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        org = services.convert_to_organisation(migration=lead, actor=admin, code="kyiv")
    assert org.time_zone == "Europe/Kyiv"
    user = User.objects.get(email="olga@kyiv-trade.example")
    assert (user.first_name, user.last_name, user.language, user.time_zone) == (
        "Olga",
        "Shevchenko",
        "uk",
        "Europe/Kyiv",
    )
    assert not user.has_usable_password()
    assert Membership.objects.get(user=user).organisation == org
    assert Membership.objects.get(user=user).role == Role.COORDINATOR
    (invitation,) = django_mail.outbox
    assert invitation.to == ["olga@kyiv-trade.example"]
    assert "/accounts/" in invitation.body and user.username in invitation.body
    assert "saas.contact.invited" in lead.events.values_list("action", flat=True)
    lead.refresh_from_db()
    assert services.is_coordinator(user, lead)


def test_an_unknown_country_gives_utc(admin):
    lead = f.lead(email="x@far.example", company="Far Away", country="")
    org = services.convert_to_organisation(migration=lead, actor=admin, code="far")
    assert org.time_zone == "UTC"


def test_an_existing_customer_account_becomes_a_member_a_staff_address_does_not(
    admin, other_org, django_capture_on_commit_callbacks
):
    known = customer(other_org, username="known", email="known@newco.example")
    lead = f.lead(email="known@newco.example", company="NewCo")
    django_mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        org = services.convert_to_organisation(migration=lead, actor=admin, code="newco")
    assert Membership.objects.get(user=known, organisation=org).role == Role.COORDINATOR
    assert User.objects.filter(email__iexact="known@newco.example").count() == 1
    assert not django_mail.outbox  # they have a password already
    agent = staff(Role.OPERATOR, username="agent", email="agent@staffco.example")
    lead2 = f.lead(email="agent@staffco.example", company="Staff Co")
    org2 = services.convert_to_organisation(migration=lead2, actor=admin, code="staffco")
    assert not Membership.objects.filter(user=agent, organisation=org2).exists()
    assert "saas.contact.not_invited" in lead2.events.values_list("action", flat=True)


# -- who is told ----------------------------------------------------------------------------


def _told(kind: str) -> set[str]:
    users = set(Notification.objects.filter(kind=kind).values_list("user__username", flat=True))
    return users


def _mailed(kind: str) -> set[str]:
    return set(OutboundMail.objects.filter(kind=kind).values_list("to_address", flat=True))


def test_a_quote_request_tells_the_staff_who_may_see_it_and_the_requester(
    org, other_org, consultant, manager, operator
):
    restricted = staff(Role.CONSULTANT, username="restricted")
    AgentRestriction.objects.create(user=restricted, organisation=other_org)
    customer(org, role=Role.COORDINATOR, username="coord")
    f.lead(email="ana@newco.example")  # no organisation yet
    assert _told("saas_quote") == {"consultant", "manager"}
    assert _mailed("saas_quote_received") == {"ana@newco.example"}
    Notification.objects.all().delete()
    f.lead(email="ana@alpha.example", organisation=None)
    # A lead of an organisation (its mail domain): a restricted agent of it is told.
    org.mail_domains = "alpha-foods.example"
    org.save()
    AgentRestriction.objects.filter(user=restricted).update(organisation=org)
    Notification.objects.all().delete()
    linked = f.lead(email="boss@alpha-foods.example")
    assert linked.organisation == org
    assert _told("saas_quote") == {"consultant", "manager", "restricted"}
    # Never a customer, never an operator (who may not manage migrations).
    assert "coord" not in _told("saas_quote") and "operator" not in _told("saas_quote")


def test_the_offer_decision_reaches_staff_and_the_organisations_people_only(
    lead, consultant, coordinator, outsider, owner, other_org
):
    restricted = staff(Role.CONSULTANT, username="restricted")
    AgentRestriction.objects.create(user=restricted, organisation=other_org)
    f.confirmed(lead, consultant, coordinator)
    told = _told("saas_offer_confirmed")
    assert told == {"consultant", "coordinator"}
    assert "outsider" not in told and "restricted" not in told and "owner" not in told
    addresses = _mailed("saas_offer_confirmed")
    assert addresses == {consultant.email, coordinator.email}


def test_a_declined_offer_without_an_organisation_tells_the_requester(consultant):
    unlinked = f.lead(email="ana@newco.example")
    offer = f.sent(unlinked, consultant)
    services.decide_offer(offer=offer, confirm=False, via=Offer.Via.EMAIL, email=unlinked.email)
    assert _told("saas_offer_declined") == {"consultant"}
    assert "ana@newco.example" in _mailed("saas_offer_declined")


# -- the run window and dated ticks ---------------------------------------------------------


def test_the_default_run_is_17_to_17_next_day_in_the_organisations_zone(
    lead, consultant, coordinator, org
):
    org.time_zone = "Europe/Kyiv"
    org.save()
    f.confirmed(lead, consultant, coordinator)
    day = _today(org) + timedelta(days=10)
    services.schedule(migration=lead, actor=consultant, scheduled_for=day, target_site="s")
    lead.refresh_from_db()
    zone = zoneinfo.ZoneInfo("Europe/Kyiv")
    assert lead.starts_at == datetime.combine(day, time(17), tzinfo=zone)
    assert lead.ends_at == datetime.combine(day + timedelta(days=1), time(17), tzinfo=zone)
    services.schedule(
        migration=lead,
        actor=consultant,
        scheduled_for=day,
        target_site="s",
        document_archive=True,
    )
    lead.refresh_from_db()
    assert lead.document_archive
    assert lead.ends_at == datetime.combine(day + timedelta(days=2), time(17), tzinfo=zone)
    services.schedule(
        migration=lead,
        actor=consultant,
        scheduled_for=day,
        target_site="s",
        start_time=time(20),
        ends_on=day + timedelta(days=1),
        end_time=time(8),
    )
    lead.refresh_from_db()
    assert lead.starts_at == datetime.combine(day, time(20), tzinfo=zone)
    assert lead.ends_at == datetime.combine(day + timedelta(days=1), time(8), tzinfo=zone)


def test_a_migration_cannot_be_scheduled_in_the_past_or_end_before_it_starts(
    lead, consultant, coordinator, org
):
    f.confirmed(lead, consultant, coordinator)
    with pytest.raises(ValidationError, match="in the past"):
        services.schedule(
            migration=lead,
            actor=consultant,
            scheduled_for=_today(org) - timedelta(days=1),
            target_site="s",
        )
    day = _today(org) + timedelta(days=3)
    with pytest.raises(ValidationError, match="end after it starts"):
        services.schedule(
            migration=lead,
            actor=consultant,
            scheduled_for=day,
            target_site="s",
            ends_on=day,
            end_time=time(9),
        )
    lead.refresh_from_db()
    assert lead.starts_at is None and lead.state == "confirmed"


def test_ticks_are_dated_and_never_before_the_start_or_in_the_future(
    lead, consultant, coordinator, org
):
    f.confirmed(lead, consultant, coordinator)
    services.schedule(
        migration=lead,
        actor=consultant,
        scheduled_for=_today(org) + timedelta(days=1),
        target_site="s",
    )
    with pytest.raises(ValidationError, match="before the run starts"):
        services.tick(migration=lead, actor=consultant, step=Step.READ_ONLY)
    assert not lead.ticks.exists()
    services.schedule(
        migration=lead,
        actor=consultant,
        scheduled_for=_today(org),
        start_time=time(0),
        target_site="s",
    )
    lead.refresh_from_db()
    with pytest.raises(ValidationError, match="future"):
        services.tick(
            migration=lead,
            actor=consultant,
            step=Step.READ_ONLY,
            done_at=timezone.now() + timedelta(hours=2),
        )
    with pytest.raises(ValidationError, match="before the run starts"):
        services.tick(
            migration=lead,
            actor=consultant,
            step=Step.READ_ONLY,
            done_at=lead.starts_at - timedelta(minutes=1),
        )
    first = lead.starts_at + timedelta(seconds=1)
    row = services.tick(migration=lead, actor=consultant, step=Step.READ_ONLY, done_at=first)
    assert row.done_at == first
    with pytest.raises(ValidationError, match="previous one"):
        services.tick(
            migration=lead,
            actor=consultant,
            step=Step.FREEZE,
            done_at=first - timedelta(microseconds=1),
        )


def test_the_interface_freeze_is_a_step_of_its_own():
    assert STEP_ORDER.index(Step.FREEZE) == STEP_ORDER.index(Step.READ_ONLY) + 1
    assert STEP_ORDER.index(Step.FREEZE) < STEP_ORDER.index(Step.INTERFACES)


# -- licence lines ------------------------------------------------------------------------------


def test_a_licence_model_change_is_a_line_of_its_own_kind(lead, consultant):
    offer = services.new_offer(migration=lead, actor=consultant)
    items = [
        {**f.ITEMS[0]},
        {
            "kind": LineKind.LICENCE,
            "description": "Perpetual → SaaS subscription",
            "quantity": Decimal("12"),
            "unit": "month",
            "unit_price": Decimal("300"),
            "vat_rate": Decimal("19"),
        },
    ]
    services.save_offer(
        offer=offer, actor=consultant, items=items, currency="EUR", valid_days=30, notes=""
    )
    kinds = list(offer.items.values_list("kind", flat=True))
    assert kinds == [LineKind.SERVICE, LineKind.LICENCE]
    with pytest.raises(ValidationError):
        services.save_offer(
            offer=offer,
            actor=consultant,
            items=[{**f.ITEMS[0], "kind": "rent"}],
            currency="EUR",
            valid_days=30,
            notes="",
        )
    services.send_offer(offer=offer, actor=consultant)
    offer.refresh_from_db()
    with offer.pdf.open("rb") as fh:
        assert "Licence-model change" in " ".join(pdf_text(fh.read()).split())


# -- acceptance: the production environment --------------------------------------------------


def _accept(lead, coordinator):
    return services.accept(
        migration=lead, user=coordinator, name="Maria", accepted_on=timezone.localdate()
    )


def test_acceptance_creates_the_production_environment_and_its_system(
    lead, consultant, coordinator, org
):
    f.handed_over(lead, consultant, coordinator)
    _accept(lead, coordinator)
    env = Environment.objects.get(organisation=org)
    assert env.kind == Environment.Kind.PRODUCTION
    assert env.hosting == Party.VENDOR
    assert env.url == "https://newco.saas.example"
    assert lead.reference in env.notes
    assert env.system.product == lead.product
    assert "saas.environment.created" in lead.events.values_list("action", flat=True)


def test_acceptance_updates_the_existing_production_environment(lead, consultant, coordinator, org):
    system = System.objects.create(organisation=org, name="ERP", product="Aftercare ERP")
    other = System.objects.create(organisation=org, name="HR", product="Payroll")
    env = Environment.objects.create(
        system=system,
        kind=Environment.Kind.PRODUCTION,
        name="Production",
        url="https://erp.alpha.example",
        hosting=Party.CUSTOMER,
    )
    f.handed_over(lead, consultant, coordinator)
    _accept(lead, coordinator)
    env.refresh_from_db()
    assert env.hosting == Party.VENDOR and env.url == "https://newco.saas.example"
    assert "erp.alpha.example" in env.notes  # where it was, kept
    assert Environment.objects.filter(organisation=org).count() == 1
    assert not other.environments.exists()


# -- the final statement -------------------------------------------------------------------


def test_the_statement_has_a_yearly_number_vendor_details_terms_and_is_mailed(
    org, consultant, coordinator, outsider, settings
):
    settings.AFTERCARE_VENDOR_NAME = "Vendor Legal SRL"
    settings.AFTERCARE_VENDOR_TAX_ID = "RO12345678"
    settings.AFTERCARE_VENDOR_BANK_ACCOUNT = "RO49AAAA1B31007593840000"
    settings.AFTERCARE_PAYMENT_TERMS_DAYS = 14
    first = f.invoiced(f.lead(organisation=org), consultant, coordinator)
    year = timezone.localtime(first.issued_at).year
    assert first.number == f"{year}-0001"
    assert first.due_on == timezone.localtime(first.issued_at).date() + timedelta(days=14)
    second_lead = f.lead(organisation=org, email="b@alpha.example")
    second = f.invoiced(second_lead, consultant, coordinator)
    assert second.number == f"{year}-0002"
    assert StatementCounter.objects.get(year=year).last == 2
    with first.pdf.open("rb") as fh:
        text = " ".join(pdf_text(fh.read()).split())
    for needle in (
        f"{year}-0001",
        "Vendor Legal SRL",
        "RO12345678",
        "RO49AAAA1B31007593840000",
        "14 days",
        "Interfaces frozen",
    ):
        assert needle in text, needle
    rows = OutboundMail.objects.filter(
        kind="saas_statement", subject__contains=f"Final statement {first.number}"
    )
    assert {r.to_address for r in rows} == {coordinator.email, consultant.email}
    mine = rows.get(to_address=coordinator.email)
    assert mine.attachment.name == first.pdf.name
    assert outsider.email not in {r.to_address for r in OutboundMail.objects.all()}


def test_a_new_year_starts_at_one(org, consultant, coordinator, time_machine):
    Statement.objects.all().delete()
    StatementCounter.objects.create(year=2030, last=41)
    time_machine.move_to("2031-01-02T09:00:00Z")
    statement = f.invoiced(f.lead(organisation=org), consultant, coordinator)
    assert statement.number == "2031-0001"


def test_without_portal_people_the_statement_goes_to_the_primary_contact(
    org, consultant, coordinator
):
    from aftercare.tenancy.models import ContactPerson

    ContactPerson.objects.create(
        organisation=org, name="Ion", email="ion@alpha.example", is_primary=True
    )
    lead = f.lead(organisation=org, email="nobody@alpha.example")
    f.handed_over(lead, consultant, coordinator)
    _accept(lead, coordinator)
    coordinator.is_active = False
    coordinator.save()
    statement = services.issue_statement(migration=lead, actor=consultant)
    rows = OutboundMail.objects.filter(kind="saas_statement")
    assert {r.to_address for r in rows} == {"ion@alpha.example", consultant.email}
    assert all(r.attachment.name == statement.pdf.name for r in rows)


def test_the_statement_mail_is_sent_with_the_pdf(org, consultant, coordinator):
    from aftercare.mail.outbound import send_due

    statement = f.invoiced(f.lead(organisation=org), consultant, coordinator)
    send_due()
    sent = [m for m in django_mail.outbox if f"Final statement {statement.number}" in m.subject]
    to_coordinator = next(m for m in sent if m.to == [coordinator.email])
    ((name, content, mimetype),) = to_coordinator.attachments
    assert mimetype == "application/pdf" and name.endswith(".pdf")
    with statement.pdf.open("rb") as fh:
        assert content == fh.read()


# -- crossing the line -------------------------------------------------------------------------


def test_another_organisations_customer_and_a_restricted_agent_cannot_see_or_act(
    org, other_org, consultant, coordinator, outsider, client_for
):
    from django.urls import reverse

    lead = f.lead(organisation=org)
    statement = f.invoiced(lead, consultant, coordinator)
    restricted = staff(Role.MANAGER, username="restricted")
    AgentRestriction.objects.create(user=restricted, organisation=other_org)
    stranger = client_for(outsider)
    for name in ("saas_portal:detail", "saas_portal:statement-pdf"):
        assert stranger.get(reverse(name, args=[lead.pk])).status_code == 404
    response = stranger.post(
        reverse("saas_portal:accept", args=[lead.pk]),
        {"name": "X", "accepted_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 404
    agent = client_for(restricted)
    for name in ("saas:detail", "saas:statement-pdf"):
        assert agent.get(reverse(name, args=[lead.pk])).status_code == 404
    for name, args in (
        ("saas:statement-issue", [lead.pk]),
        ("saas:schedule", [lead.pk]),
        ("saas:tick", [lead.pk, Step.READ_ONLY]),
    ):
        assert agent.post(reverse(name, args=args), {}).status_code == 404
    # Nobody outside the organisation (or outside a restricted agent's) was ever told.
    outside = {outsider.pk, restricted.pk}
    assert not Notification.objects.filter(user_id__in=outside).exists()
    addresses = set(OutboundMail.objects.values_list("to_address", flat=True))
    assert outsider.email not in addresses and restricted.email not in addresses
    assert Statement.objects.get().number == statement.number


def test_the_statement_page_and_pdf_work_for_the_organisation(
    org, consultant, coordinator, owner, client_for
):
    from django.urls import reverse

    lead = f.lead(organisation=org)
    statement = f.invoiced(lead, consultant, coordinator)
    page = client_for(owner).get(reverse("saas_portal:detail", args=[lead.pk]))
    assert statement.number in page.content.decode()
    pdf = client_for(owner).get(reverse("saas_portal:statement-pdf", args=[lead.pk]))
    assert pdf.status_code == 200 and statement.number in pdf["Content-Disposition"]
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    console = client_for(consultant).get(reverse("saas:detail", args=[lead.pk]))
    assert statement.number in console.content.decode()


def test_scheduling_ticking_and_the_statement_are_refused_in_maintenance_mode(
    lead, consultant, coordinator, org
):
    from aftercare.ops import maintenance

    f.handed_over(lead, consultant, coordinator)
    _accept(lead, coordinator)
    maintenance.switch(True, by="tests")
    try:
        with pytest.raises(maintenance.MaintenanceError):
            services.issue_statement(migration=lead, actor=consultant)
        with pytest.raises(maintenance.MaintenanceError):
            services.schedule(
                migration=lead, actor=consultant, scheduled_for=_today(org), target_site="s"
            )
        with pytest.raises(maintenance.MaintenanceError):
            services.tick(migration=lead, actor=consultant, step=Step.READ_ONLY)
    finally:
        maintenance.switch(False, by="tests")
        maintenance.forget()
    assert not Statement.objects.exists() and not StatementCounter.objects.exists()
