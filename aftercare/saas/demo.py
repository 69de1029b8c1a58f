"""Demo data: a fresh lead from the quote form, and a migration for Carpathia Foods with
an offer sent (services and a licence-model change), waiting for
``carpathia.coordinator`` to confirm it in the portal. Creating the leads tells the staff
(bell and mail) and sends the requesters their receipts, as the quote form would."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from aftercare.accounts.roles import Role
from aftercare.saas import services
from aftercare.saas.models import LineKind, Migration
from aftercare.tenancy.models import Organisation


def load(staff: dict) -> None:
    if Migration.objects.exists():
        return
    consultant = staff[Role.CONSULTANT]
    today = timezone.localdate()
    services.create_lead(
        company="Ostrava Stroje s.r.o.",
        contact_name="Petra Nováková",
        email="petra@ostrava-stroje.example",
        phone="+420 555 000 111",
        country="CZ",
        product="Aftercare ERP 10.4 (on-premises)",
        users=35,
        desired_date=today + timedelta(days=75),
        message="We run 10.4 on our own server and would like to move to your SaaS.",
        language="en",
    )
    org = Organisation.objects.get(code="carpathia")
    migration = services.create_lead(
        company=org.name,
        contact_name="Maria Carpathia",
        email="coordinator@carpathia.example",
        phone="+40 21 555 0100",
        country="RO",
        product="Aftercare ERP 11.2 (on-premises)",
        users=60,
        desired_date=today + timedelta(days=45),
        message="Dorim migrarea în cloud până la închiderea anului fiscal.",
        language="ro",
    )
    offer = services.new_offer(migration=migration, actor=consultant)
    items = [
        ("Analiză și plan de migrare", "1", "zi", "750.00"),
        ("Migrarea datelor (ș, ț, ă, î, â verificate)", "3", "zile", "750.00"),
        ("Conversia interfețelor (bancă, e-Factura)", "2", "zile", "750.00"),
        ("Instruire utilizatori", "6", "ore", "95.00"),
    ]
    services.save_offer(
        offer=offer,
        actor=consultant,
        currency="EUR",
        valid_days=30,
        notes="Preț fix pentru volumul de date actual.",
        items=[
            *(
                {
                    "description": d,
                    "quantity": Decimal(q),
                    "unit": u,
                    "unit_price": Decimal(p),
                    "vat_rate": Decimal("19"),
                }
                for d, q, u, p in items
            ),
            {
                "kind": LineKind.LICENCE,
                "description": "Trecere de la licență perpetuă la abonament SaaS (60 utilizatori)",
                "quantity": Decimal("12"),
                "unit": "luni",
                "unit_price": Decimal("540.00"),
                "vat_rate": Decimal("19"),
            },
        ],
    )
    services.send_offer(offer=offer, actor=consultant)
