"""The state rules of a SaaS migration: each transition in order, refused out of order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from aftercare.accounts.roles import Role
from aftercare.saas import services
from aftercare.saas.models import STEP_ORDER, Extra, Offer, OfferItem, State, Step, totals
from aftercare.saas.tests import factories as f
from aftercare.tenancy.models import AgentRestriction, Organisation
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(org):
    return f.lead(organisation=org)


def _actions(migration) -> list[str]:
    return list(migration.events.values_list("action", flat=True))


# -- totals -------------------------------------------------------------------------------


def test_totals_are_decimal_rounded_per_line_and_grouped_by_vat_rate():
    items = [
        OfferItem(
            description="a",
            quantity=Decimal("3"),
            unit_price=Decimal("0.335"),
            vat_rate=Decimal("19"),
        ),
        OfferItem(
            description="b",
            quantity=Decimal("1.5"),
            unit_price=Decimal("10.10"),
            vat_rate=Decimal("9"),
        ),
        OfferItem(
            description="c",
            quantity=Decimal("1"),
            unit_price=Decimal("0.10"),
            vat_rate=Decimal("19"),
        ),
    ]
    result = totals(items)
    # 3 × 0.335 = 1.005 → 1.01 (half up); 1.5 × 10.10 = 15.15; 0.10
    assert result["net"] == Decimal("16.26")
    assert result["vat_by_rate"] == [
        (Decimal("9"), Decimal("1.36")),  # 15.15 × 9% = 1.3635
        (Decimal("19"), Decimal("0.21")),  # 1.01 × 19% = 0.1919 → 0.19; 0.10 × 19% = 0.019 → 0.02
    ]
    assert result["vat"] == Decimal("1.57")
    assert result["gross"] == Decimal("17.83")
    assert all(isinstance(v, Decimal) for v in (result["net"], result["vat"], result["gross"]))


def test_an_offer_and_extras_total_exactly(lead, consultant, coordinator):
    offer = f.draft(lead, consultant)
    sums = offer.totals()
    assert sums["net"] == Decimal("2756.50")
    assert sums["vat"] == Decimal("475.00") + Decimal("23.09")  # 256.50 × 9% = 23.085 → 23.09
    assert sums["gross"] == Decimal("3254.59")


# -- the whole way ---------------------------------------------------------------------------


def test_a_migration_goes_the_whole_way_and_every_step_is_audited(lead, consultant, coordinator):
    statement = f.invoiced(lead, consultant, coordinator)
    lead.refresh_from_db()
    assert lead.state == State.INVOICED
    assert statement.gross == Decimal("3254.59") + Decimal("180.00") + Decimal("34.20")
    moves = list(lead.events.exclude(new="").values_list("old", "new"))
    assert [m for m in moves if m[0]] == [
        (State.LEAD, State.OFFER_SENT),
        (State.OFFER_SENT, State.CONFIRMED),
        (State.CONFIRMED, State.SCHEDULED),
        (State.SCHEDULED, State.IN_PROGRESS),
        (State.IN_PROGRESS, State.HANDED_OVER),
        (State.HANDED_OVER, State.ACCEPTED),
        (State.ACCEPTED, State.INVOICED),
    ]
    ticks = {t.step: t for t in lead.ticks.all()}
    assert list(ticks) == STEP_ORDER
    assert all(t.done_by == consultant and t.done_at for t in ticks.values())
    assert lead.acceptance.name == "Maria" and lead.acceptance.user == coordinator


# -- offers ----------------------------------------------------------------------------------


def test_an_offer_without_items_cannot_be_sent(lead, consultant):
    offer = services.new_offer(migration=lead, actor=consultant)
    with pytest.raises(services.TransitionError, match="at least one line item"):
        services.send_offer(offer=offer, actor=consultant)
    lead.refresh_from_db()
    assert lead.state == State.LEAD


def test_a_new_revision_supersedes_the_previous_offer(lead, consultant, coordinator):
    first = f.sent(lead, consultant)
    second = f.draft(lead, consultant)
    assert second.revision == 2
    assert second.items.count() == 2  # copied from the previous revision
    services.send_offer(offer=second, actor=consultant)
    first.refresh_from_db()
    assert first.status == Offer.Status.SUPERSEDED
    assert lead.current_offer() == second
    with pytest.raises(services.TransitionError, match="replaced by a newer revision"):
        services.decide_offer(offer=first, confirm=True, via=Offer.Via.PORTAL, user=coordinator)
    assert "saas.offer.superseded" in _actions(lead)


def test_a_sent_offer_cannot_be_edited_and_only_one_draft_exists(lead, consultant):
    offer = f.sent(lead, consultant)
    with pytest.raises(services.TransitionError, match="cannot be changed"):
        services.save_offer(
            offer=offer, actor=consultant, items=[], currency="EUR", valid_days=1, notes=""
        )
    services.new_offer(migration=lead, actor=consultant)
    with pytest.raises(services.TransitionError, match="draft offer already"):
        services.new_offer(migration=lead, actor=consultant)


def test_an_offer_is_answered_once(lead, consultant, coordinator):
    offer = f.sent(lead, consultant)
    services.decide_offer(offer=offer, confirm=False, via=Offer.Via.PORTAL, user=coordinator)
    lead.refresh_from_db()
    assert lead.state == State.DECLINED
    with pytest.raises(services.TransitionError, match="already answered"):
        services.decide_offer(offer=offer, confirm=True, via=Offer.Via.PORTAL, user=coordinator)
    # After a decline a new revision may be sent, and confirmed.
    again = f.sent(lead, consultant)
    services.decide_offer(offer=again, confirm=True, via=Offer.Via.PORTAL, user=coordinator)
    lead.refresh_from_db()
    assert lead.state == State.CONFIRMED
    with pytest.raises(services.TransitionError):
        services.new_offer(migration=lead, actor=consultant)


def test_an_expired_offer_cannot_be_confirmed(lead, consultant, coordinator):
    offer = f.sent(lead, consultant)
    Offer.objects.filter(pk=offer.pk).update(sent_at=timezone.now() - timedelta(days=31))
    offer.refresh_from_db()
    with pytest.raises(services.TransitionError, match="expired"):
        services.decide_offer(offer=offer, confirm=True, via=Offer.Via.PORTAL, user=coordinator)


def test_only_a_coordinator_of_the_organisation_decides_in_the_portal(
    lead, consultant, owner, outsider
):
    offer = f.sent(lead, consultant)
    for user in (owner, outsider, consultant):
        with pytest.raises(PermissionDenied):
            services.decide_offer(offer=offer, confirm=True, via=Offer.Via.PORTAL, user=user)
    offer.refresh_from_db()
    assert offer.status == Offer.Status.SENT


# -- scheduling and the checklist -------------------------------------------------------------


def test_scheduling_needs_a_confirmed_offer_and_an_organisation(consultant, coordinator, org):
    unlinked = f.lead()
    day = f.next_saturday()
    with pytest.raises(services.TransitionError, match="must be: Confirmed"):
        services.schedule(migration=unlinked, actor=consultant, scheduled_for=day, target_site="x")
    f.sent(unlinked, consultant)
    offer = unlinked.current_offer()
    services.decide_offer(offer=offer, confirm=True, via=Offer.Via.EMAIL, email=unlinked.email)
    unlinked.refresh_from_db()
    with pytest.raises(services.TransitionError, match="Link the lead"):
        services.schedule(migration=unlinked, actor=consultant, scheduled_for=day, target_site="x")
    services.link_organisation(migration=unlinked, organisation=org, actor=consultant)
    services.schedule(migration=unlinked, actor=consultant, scheduled_for=day, target_site="x")
    unlinked.refresh_from_db()
    assert unlinked.state == State.SCHEDULED
    assert unlinked.offers.get().organisation == org  # moved into the organisation's scope


def test_a_weekend_migration_must_start_at_the_weekend(lead, consultant, coordinator):
    f.confirmed(lead, consultant, coordinator)
    monday = f.next_saturday() + timedelta(days=2)
    with pytest.raises(ValidationError):
        services.schedule(
            migration=lead, actor=consultant, scheduled_for=monday, target_site="x", weekend=True
        )


def test_checklist_steps_go_strictly_in_order(lead, consultant, coordinator):
    with pytest.raises(services.TransitionError):
        services.tick(migration=lead, actor=consultant, step=Step.READ_ONLY)
    f.scheduled(lead, consultant, coordinator)
    with pytest.raises(services.TransitionError, match="Old system set read-only"):
        services.tick(migration=lead, actor=consultant, step=Step.DATA)
    services.tick(migration=lead, actor=consultant, step=Step.READ_ONLY, note="at 18:00")
    lead.refresh_from_db()
    assert lead.state == State.IN_PROGRESS
    with pytest.raises(services.TransitionError, match="done already"):
        services.tick(migration=lead, actor=consultant, step=Step.READ_ONLY)
    with pytest.raises(services.TransitionError, match="Interfaces frozen"):
        services.tick(migration=lead, actor=consultant, step=Step.HANDOVER)
    with pytest.raises(services.TransitionError, match="Unknown"):
        services.tick(migration=lead, actor=consultant, step="coffee")
    for step in STEP_ORDER[1:]:
        lead.refresh_from_db()
        assert lead.state == State.IN_PROGRESS
        services.tick(migration=lead, actor=consultant, step=step)
    lead.refresh_from_db()
    assert lead.state == State.HANDED_OVER


# -- acceptance and statement ----------------------------------------------------------------


def test_acceptance_only_after_the_checklist_and_only_by_a_coordinator(
    lead, consultant, coordinator, owner, outsider
):
    f.scheduled(lead, consultant, coordinator)
    services.tick(migration=lead, actor=consultant, step=Step.READ_ONLY)
    today = timezone.localdate()
    with pytest.raises(services.TransitionError, match="checklist is not complete"):
        services.accept(migration=lead, user=coordinator, name="Maria", accepted_on=today)
    for step in STEP_ORDER[1:]:
        services.tick(migration=lead, actor=consultant, step=step)
    for user in (owner, outsider, consultant):
        with pytest.raises(PermissionDenied):
            services.accept(migration=lead, user=user, name="X", accepted_on=today)
    with pytest.raises(ValidationError):
        services.accept(migration=lead, user=coordinator, name=" ", accepted_on=today)
    with pytest.raises(ValidationError):
        services.accept(
            migration=lead, user=coordinator, name="Maria", accepted_on=today + timedelta(days=1)
        )
    services.accept(migration=lead, user=coordinator, name="Maria", accepted_on=today, comment="OK")
    with pytest.raises(services.TransitionError, match="accepted already"):
        services.accept(migration=lead, user=coordinator, name="Maria", accepted_on=today)


def test_the_statement_needs_the_acceptance_and_is_issued_once(lead, consultant, coordinator):
    f.handed_over(lead, consultant, coordinator)
    with pytest.raises(services.TransitionError, match="must be: Accepted"):
        services.issue_statement(migration=lead, actor=consultant)
    services.accept(migration=lead, user=coordinator, name="M", accepted_on=timezone.localdate())
    services.issue_statement(migration=lead, actor=consultant)
    with pytest.raises(services.TransitionError):
        services.issue_statement(migration=lead, actor=consultant)
    with pytest.raises(services.TransitionError):
        services.add_extra(
            migration=lead,
            actor=consultant,
            description="late",
            quantity=1,
            unit="",
            unit_price=Decimal(1),
            vat_rate=Decimal(0),
        )


def test_extras_only_between_confirmation_and_invoice(lead, consultant, coordinator):
    data = {
        "description": "x",
        "quantity": Decimal(1),
        "unit": "h",
        "unit_price": Decimal(5),
        "vat_rate": Decimal(19),
    }
    with pytest.raises(services.TransitionError):
        services.add_extra(migration=lead, actor=consultant, **data)
    f.confirmed(lead, consultant, coordinator)
    extra = services.add_extra(migration=lead, actor=consultant, **data)
    services.remove_extra(extra=extra, actor=consultant)
    assert not Extra.objects.exists()
    assert {"saas.extra.added", "saas.extra.removed"} <= set(_actions(lead))


# -- who may ---------------------------------------------------------------------------------


def test_operators_and_developers_may_view_but_not_manage(lead, operator, developer, manager):
    for user in (operator, developer):
        with pytest.raises(PermissionDenied):
            services.new_offer(migration=lead, actor=user)
    assert services.new_offer(migration=lead, actor=manager).revision == 1
    assert services.new_offer(migration=f.lead(), actor=staff(Role.ADMIN)).revision == 1


def test_a_restricted_agent_may_not_manage_another_organisations_migration(
    lead, consultant, other_org
):
    AgentRestriction.objects.create(user=consultant, organisation=other_org)
    with pytest.raises(PermissionDenied):
        services.new_offer(migration=lead, actor=consultant)
    with pytest.raises(PermissionDenied):
        services.new_offer(migration=f.lead(), actor=consultant)  # unlinked lead: staff-wide


def test_converting_a_lead_creates_the_organisation_with_its_contact(consultant):
    admin = staff(Role.ADMIN)
    lead = f.lead(
        email="olga@kyiv-trade.example", company="Kyiv Trade", language="uk", country="UA"
    )
    with pytest.raises(PermissionDenied):
        services.convert_to_organisation(migration=lead, actor=consultant, code="kyiv")
    org = services.convert_to_organisation(migration=lead, actor=admin, code="kyiv")
    assert (org.name, org.language, org.country, org.mail_domains) == (
        "Kyiv Trade",
        "uk",
        "UA",
        "kyiv-trade.example",
    )
    assert org.contacts.get().email == "olga@kyiv-trade.example"
    lead.refresh_from_db()
    assert lead.organisation == org
    with pytest.raises(services.TransitionError):
        services.convert_to_organisation(migration=lead, actor=admin, code="kyiv2")
    other = f.lead(company="Kyiv Trade")
    with pytest.raises(services.TransitionError, match="exists already"):
        services.convert_to_organisation(migration=other, actor=admin, code="kyiv3")
    assert Organisation.objects.filter(name="Kyiv Trade").count() == 1
