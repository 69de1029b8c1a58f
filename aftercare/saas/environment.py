"""On acceptance the migrated site becomes the customer's production environment in the
lifecycle (an ``Environment`` of kind production, hosted by the vendor)."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from aftercare.saas.models import Migration


def _site_url(target_site: str) -> str:
    from django.core.validators import URLValidator

    url = target_site.strip()
    if url and "://" not in url:
        url = f"https://{url}"
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        return ""
    return url[:500]


def production_environment(migration: Migration, accepted_on: date):
    """On acceptance the migrated site becomes the customer's production environment:
    hosted by the vendor, at the SaaS site. The organisation's system is the one whose
    product the lead named (else its only or first one; a new one when it has none); its
    production environment is updated, or created. No deployment is recorded and no
    lifecycle rule runs: this is the record of where production now is."""
    from aftercare.lifecycle.models import Environment, Party
    from aftercare.tenancy.models import System

    org = migration.organisation
    systems = list(System.objects.filter(organisation=org).order_by("pk"))
    named = [s for s in systems if s.product and s.product.lower() in migration.product.lower()]
    system = (named or systems or [None])[0]
    if system is None:
        name = (migration.product or migration.company)[:200]
        system = System.objects.create(organisation=org, name=name, product=name)
    url = _site_url(migration.target_site)
    note = _(
        "Migrated to SaaS (%(reference)s), accepted on %(date)s: hosted by the vendor at %(site)s."
    ) % {
        "reference": migration.reference,
        "date": accepted_on.isoformat(),
        "site": migration.target_site,
    }
    environment = (
        Environment.objects.filter(system=system, kind=Environment.Kind.PRODUCTION)
        .order_by("pk")
        .first()
    )
    created = environment is None
    if created:
        name = _("Production (SaaS)")
        if Environment.objects.filter(system=system, name=name).exists():
            name = f"{name} {migration.reference}"
        environment = Environment(system=system, kind=Environment.Kind.PRODUCTION, name=name)
    else:
        note = _("%(note)s Before: hosted by %(hosting)s %(details)s %(url)s.") % {
            "note": note,
            "hosting": environment.get_hosting_display(),
            "details": environment.hosting_details,
            "url": environment.url,
        }
    environment.hosting = Party.VENDOR
    environment.url = url
    environment.hosting_details = _("SaaS site %(site)s") % {"site": migration.target_site[:250]}
    environment.notes = f"{environment.notes}\n{note}".strip()
    environment.save()
    return environment, created
