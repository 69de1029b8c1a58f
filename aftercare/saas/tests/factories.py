"""Migrations in a given state, built through the services (as people would)."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal

from django.utils import timezone

from aftercare.saas import services
from aftercare.saas.models import STEP_ORDER, Migration, Offer

ITEMS = [
    {
        "description": "Migrare bază de date și configurare (ș ț ă î â)",
        "quantity": Decimal("1"),
        "unit": "pauschal",
        "unit_price": Decimal("2500.00"),
        "vat_rate": Decimal("19"),
    },
    {
        "description": "Навчання користувачів / обучение",
        "quantity": Decimal("3"),
        "unit": "h",
        "unit_price": Decimal("85.50"),
        "vat_rate": Decimal("9"),
    },
]


def lead(*, email: str = "ana@newco.example", organisation=None, **kwargs) -> Migration:
    """A quote request; ``organisation`` links it (as staff would) before anything else."""
    data = {
        "company": "NewCo Distribuție SRL",
        "contact_name": "Ana Ionescu",
        "email": email,
        "phone": "+40 21 000 0000",
        "country": "RO",
        "product": "Aftercare ERP 11.2 on-premises",
        "users": 25,
        "desired_date": timezone.localdate() + timedelta(days=30),
        "message": "We would like to move to SaaS.",
        "language": "en",
        **kwargs,
    }
    migration = services.create_lead(**data)
    if organisation is not None:
        migration.organisation = organisation
        migration.save(update_fields=["organisation"])
        migration.events.update(organisation=organisation)
    return migration


def draft(migration: Migration, actor, items=ITEMS) -> Offer:
    offer = services.new_offer(migration=migration, actor=actor)
    return services.save_offer(
        offer=offer, actor=actor, items=items, currency="EUR", valid_days=30, notes=""
    )


def sent(migration: Migration, actor) -> Offer:
    return services.send_offer(offer=draft(migration, actor), actor=actor)


def confirmed(migration: Migration, actor, coordinator) -> Offer:
    offer = sent(migration, actor)
    return services.decide_offer(offer=offer, confirm=True, via=Offer.Via.PORTAL, user=coordinator)


def next_saturday() -> date:
    today = timezone.localdate()
    return today + timedelta(days=(5 - today.weekday()) % 7 or 7)


def scheduled(migration: Migration, actor, coordinator) -> Migration:
    """Scheduled to run from midnight today (organisation's time zone), so the checklist
    can be ticked now: ticks may not precede the start, nor lie in the future."""
    confirmed(migration, actor, coordinator)
    migration.refresh_from_db()
    today = timezone.now().astimezone(migration.organisation.zone).date()
    return services.schedule(
        migration=migration,
        actor=actor,
        scheduled_for=today,
        start_time=time(0, 0),
        target_site="newco.saas.example",
        training_needs="Two sessions for finance",
    )


def handed_over(migration: Migration, actor, coordinator) -> Migration:
    scheduled(migration, actor, coordinator)
    for step in STEP_ORDER:
        services.tick(migration=migration, actor=actor, step=step)
    migration.refresh_from_db()
    return migration


def invoiced(migration: Migration, actor, coordinator):
    handed_over(migration, actor, coordinator)
    services.add_extra(
        migration=migration,
        actor=actor,
        description="Extra interface: bank export",
        quantity=Decimal("2"),
        unit="h",
        unit_price=Decimal("90"),
        vat_rate=Decimal("19"),
    )
    services.accept(
        migration=migration, user=coordinator, name="Maria", accepted_on=timezone.localdate()
    )
    return services.issue_statement(migration=migration, actor=actor)


def shallow(organisation, **kwargs):
    """A confirmed migration with a sent offer (a stand-in PDF), its mail link and an
    extra, written directly (no PDF rendering): for fixtures that run hundreds of times,
    such as the security walk. Returns (migration, offer, extra, link token)."""
    import secrets

    from django.core.files.base import ContentFile

    from aftercare.saas.models import Extra, OfferItem, OfferLink, State

    migration = Migration.objects.create(
        organisation=organisation,
        state=State.CONFIRMED,
        company=organisation.name,
        contact_name="Contact",
        email=f"contact@{organisation.code}.example",
        product="Aftercare ERP 9",
        users=10,
        **kwargs,
    )
    offer = Offer(
        migration=migration,
        organisation=organisation,
        revision=1,
        status=Offer.Status.SENT,
        sent_at=timezone.now(),
    )
    offer.pdf.save("offer.pdf", ContentFile(b"%PDF-1.4 stand-in\n"), save=False)
    offer.save()
    OfferItem.objects.create(offer=offer, organisation=organisation, **ITEMS[0])
    nonce = secrets.token_urlsafe(24)
    link = OfferLink.objects.create(
        offer=offer,
        organisation=organisation,
        email=migration.email,
        nonce_hash=services._hash(nonce),
    )
    extra = Extra.objects.create(migration=migration, organisation=organisation, **ITEMS[1])
    return migration, offer, extra, services._token(link, nonce)
