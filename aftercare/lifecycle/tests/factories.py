from __future__ import annotations

from datetime import date

from aftercare.lifecycle.models import Environment, Product, Release
from aftercare.tenancy.models import Contract, Organisation, System


def release(product: Product, version: str, service_pack: str = "", **kwargs) -> Release:
    kwargs.setdefault("released_on", date(2026, 1, 1))
    return Release.objects.create(
        product=product, version=version, service_pack=service_pack, **kwargs
    )


def landscape(organisation: Organisation, product_name: str = "Aftercare ERP") -> dict:
    """A customer system with a contract and its production, test and training
    environments, all on 11.2; the product has releases 11.2, 11.3 and 11.3 SP1."""
    product, _created = Product.objects.get_or_create(name=product_name)
    r112 = Release.objects.filter(product=product, version="11.2").first() or release(
        product, "11.2", released_on=date(2025, 6, 1)
    )
    r113 = Release.objects.filter(product=product, version="11.3", service_pack="").first() or (
        release(product, "11.3", released_on=date(2025, 11, 1))
    )
    r113sp1 = Release.objects.filter(product=product, service_pack="SP1").first() or release(
        product, "11.3", "SP1", released_on=date(2026, 2, 1)
    )
    contract = Contract.objects.create(
        organisation=organisation, number=f"SUP-{organisation.code}", starts_on=date(2024, 1, 1)
    )
    system = System.objects.create(
        organisation=organisation,
        name=f"{organisation.code} ERP",
        product=product_name,
        version="11.2",
        contract=contract,
    )

    def env(kind: str, name: str) -> Environment:
        return Environment.objects.create(
            system=system,
            kind=kind,
            name=name,
            url=f"https://{name.lower()}.{organisation.code}.example",
            version="11.2",
            current_release=r112,
        )

    return {
        "product": product,
        "r112": r112,
        "r113": r113,
        "r113sp1": r113sp1,
        "contract": contract,
        "system": system,
        "production": env(Environment.Kind.PRODUCTION, "Production"),
        "test": env(Environment.Kind.TEST, "Test"),
        "training": env(Environment.Kind.TRAINING, "Training"),
    }
