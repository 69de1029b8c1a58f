"""Demo data: products, releases, each demo customer's environments and their history.

Called once from ``demo_load`` after the organisations exist (inside its transaction and
system scope). Deployments go through ``services.deploy`` so the demo obeys the rules:
Carpathia is current (its production change went in with the customer's approval, inside
its Saturday maintenance window), Dnipro's production is a service pack behind, Lumière
is still on 11.2 after a failed test deployment.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from aftercare.accounts.roles import Role
from aftercare.desk import approvals
from aftercare.desk.models import Approval, Category, Ticket
from aftercare.lifecycle.models import (
    Deployment,
    Environment,
    MaintenanceWindow,
    Party,
    PlannedUpgrade,
    Product,
    Release,
    ReleaseNote,
    Responsibility,
    Rollout,
)
from aftercare.lifecycle.services import (
    ask_release_approval,
    deploy,
    mark_delivered,
    plan_rollout,
)
from aftercare.tenancy.models import Membership, Organisation, System

OK = Deployment.Result.SUCCEEDED
FAILED = Deployment.Result.FAILED


def _saturday_evening(org: Organisation, days_ago: int) -> datetime:
    day = date.today() - timedelta(days=days_ago)
    day -= timedelta(days=(day.weekday() - 5) % 7)
    return datetime.combine(day, time(21, 0), tzinfo=org.zone)


def _at(days_ago: int, hour: int = 10) -> datetime:
    day = date.today() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(hour, 0)))


def _releases() -> dict[str, Release]:
    today = date.today()
    erp, _c = Product.objects.get_or_create(
        name="Aftercare ERP", defaults={"description": "Accounting, stock, payroll."}
    )
    crm, _c = Product.objects.get_or_create(name="Aftercare CRM")
    rows = {
        "11.2": (erp, "11.2", "", 420, "Baseline for this demo."),
        "11.3": (erp, "11.3", "", 160, "New VAT reports; faster stock valuation."),
        "11.3 SP1": (erp, "11.3", "SP1", 45, "Fixes posting of invoices in closed periods."),
        "crm 5.0": (crm, "5.0", "", 400, ""),
        "crm 5.1": (crm, "5.1", "", 90, "Campaign mailings."),
    }
    out = {}
    for key, (product, version, sp, age, notes) in rows.items():
        out[key], _c = Release.objects.get_or_create(
            product=product,
            version=version,
            service_pack=sp,
            defaults={"released_on": today - timedelta(days=age), "notes": notes},
        )
    for key, texts in TRANSLATED_NOTES.items():
        for language, text in texts.items():
            ReleaseNote.objects.get_or_create(
                release=out[key], language=language, defaults={"text": text}
            )
    return out


# The release notes customers read in their own language (the portal, the delivery mail).
TRANSLATED_NOTES = {
    "11.3": {
        "ro": "Rapoarte TVA noi; evaluarea stocurilor mai rapidă.",
        "fr": "Nouveaux rapports de TVA ; valorisation des stocks plus rapide.",
        "uk": "Нові звіти з ПДВ; швидша оцінка запасів.",
        "ru": "Новые отчёты по НДС; более быстрая оценка запасов.",
    },
    "11.3 SP1": {
        "ro": "Corectează înregistrarea facturilor în perioade închise.",
        "fr": "Corrige la comptabilisation des factures dans les périodes clôturées.",
        "uk": "Виправляє проведення рахунків у закритих періодах.",
        "ru": "Исправляет проведение счетов в закрытых периодах.",
    },
}


def _env(system: System, kind: str, name: str, release: Release, hosting: str, **kw):
    return Environment.objects.create(
        system=system,
        kind=kind,
        name=name,
        url=f"https://{name.lower().replace(' ', '-')}.{system.organisation.code}.example",
        hosting=hosting,
        version=release.label,
        current_release=release,
        **kw,
    )


def _matrix(org: Organisation, partner: str = "") -> None:
    contract = org.contracts.first()
    if contract is None:
        return
    A = Responsibility.Area
    host = f"{org.name.split()[0]} Cloud Hosting"
    first_line = (Party.PARTNER, partner) if partner else (Party.CUSTOMER, "Key users")
    # (area, party, name, scope, response time in business hours)
    rows = [
        (A.PRE_SALES, Party.VENDOR, "", "", None),
        (A.IMPLEMENTATION, *(first_line if partner else (Party.VENDOR, "")), "", None),
        (A.CUSTOMISATION, Party.VENDOR, "", "Changes to standard reports and forms", None),
        (A.ROADMAP, Party.VENDOR, "", "", None),
        (A.SUPPORT_ACCESS, Party.VENDOR, "", "Portal, e-mail, knowledge base", None),
        (A.FIRST_LINE, *first_line, "Users' questions, passwords, triage", 4),
        (A.SECOND_LINE, Party.VENDOR, "", "Errors, data fixes, configuration", 8),
        (A.PRODUCT_SUPPORT, Party.VENDOR, "", "", 16),
        (A.RESPONSE_PHONE, Party.VENDOR, "", "Phone on working days 09:00-18:00", 1),
        (A.SOURCE_CODE, Party.VENDOR, "Escrow on request", "", None),
        (A.UPGRADES, Party.VENDOR, "", "Releases and service packs", None),
        (A.INFRASTRUCTURE, Party.PROVIDER, host, "Servers, network, backups", 2),
        (A.HARDWARE, Party.CUSTOMER, "", "Workstations and printers", None),
        (A.DATABASE, Party.PROVIDER, host, "Database server and backups", 4),
        (A.DATABASE, Party.VENDOR, "", "Data model and migrations", 8),
        (A.TRAINING, *((Party.PARTNER, partner) if partner else (Party.VENDOR, "")), "", None),
        (A.MONITORING, Party.PROVIDER, host, "Availability and disk space", 1),
        (A.MONITORING, Party.VENDOR, "", "Application errors and jobs", 4),
    ]
    for area, party, name, scope, hours in rows:
        Responsibility.objects.create(
            contract=contract,
            area=area,
            party=party,
            party_name=name,
            scope=scope,
            response_hours=hours,
        )


def _approved_change(
    org: Organisation, staff, release: Release, environment: Environment
) -> Ticket | None:
    ticket = Ticket.objects.filter(organisation=org, category=Category.CHANGE).first()
    coordinator = (
        Membership.objects.filter(organisation=org, role=Role.COORDINATOR)
        .select_related("user")
        .first()
    )
    if ticket is None or coordinator is None:
        return None
    approval = ask_release_approval(
        ticket=ticket, release=release, environment=environment, actor=staff[Role.CONSULTANT]
    )
    approvals.decide(
        approval=approval, user=coordinator.user, approve=True, via=Approval.Via.PORTAL
    )
    return ticket


def load(staff) -> None:
    r = _releases()
    consultant, developer, manager = (
        staff[Role.CONSULTANT],
        staff[Role.DEVELOPER],
        staff[Role.MANAGER],
    )
    orgs = {
        o.code: o for o in Organisation.objects.filter(code__in=["carpathia", "dnipro", "lumiere"])
    }

    def erp_of(org):
        return System.objects.get(organisation=org, product="Aftercare ERP")

    # Carpathia: current everywhere; production changes only Saturday evenings.
    org = orgs.get("carpathia")
    if org is not None:
        erp = erp_of(org)
        prod = _env(erp, Environment.Kind.PRODUCTION, "Production", r["11.2"], Party.PROVIDER)
        test = _env(erp, Environment.Kind.TEST, "Test", r["11.2"], Party.PROVIDER)
        training = _env(erp, Environment.Kind.TRAINING, "Training", r["11.2"], Party.VENDOR)
        MaintenanceWindow.objects.create(
            contract=erp.contract,
            weekday=MaintenanceWindow.Weekday.SATURDAY,
            starts_at=time(20, 0),
            ends_at=time(23, 59),
            notes="Agreed with the IT manager.",
        )
        deploy(
            release=r["11.3"], environment=test, actor=developer, result=OK, deployed_at=_at(120)
        )
        deploy(
            release=r["11.3"],
            environment=prod,
            actor=consultant,
            result=OK,
            deployed_at=_saturday_evening(org, 110),
        )
        deploy(
            release=r["11.3 SP1"], environment=test, actor=developer, result=OK, deployed_at=_at(30)
        )
        deploy(
            release=r["11.3 SP1"],
            environment=training,
            actor=developer,
            result=OK,
            deployed_at=_at(29),
        )
        change = _approved_change(org, staff, r["11.3 SP1"], prod)
        deploy(
            release=r["11.3 SP1"],
            environment=prod,
            actor=consultant,
            result=OK,
            deployed_at=_saturday_evening(org, 20),
            change_requests=[change] if change else [],
            notes="Downtime 25 minutes, as announced.",
        )
        crm = System.objects.filter(organisation=org, product="Aftercare CRM").first()
        if crm is not None:
            _env(crm, Environment.Kind.PRODUCTION, "CRM production", r["crm 5.0"], Party.VENDOR)
        _matrix(org)

    # Dnipro: production one service pack behind; a failover copy; first line by a partner.
    org = orgs.get("dnipro")
    if org is not None:
        erp = erp_of(org)
        prod = _env(erp, Environment.Kind.PRODUCTION, "Production", r["11.2"], Party.CUSTOMER)
        backup = _env(erp, Environment.Kind.BACKUP, "Failover", r["11.2"], Party.CUSTOMER)
        test = _env(erp, Environment.Kind.TEST, "Test", r["11.2"], Party.CUSTOMER)
        deploy(
            release=r["11.3"], environment=test, actor=consultant, result=OK, deployed_at=_at(70)
        )
        deploy(
            release=r["11.3"],
            environment=prod,
            actor=consultant,
            result=OK,
            deployed_at=_at(65, 19),
        )
        deploy(
            release=r["11.3"],
            environment=backup,
            actor=consultant,
            result=OK,
            deployed_at=_at(65, 20),
        )
        deploy(
            release=r["11.3 SP1"],
            environment=test,
            actor=consultant,
            result=OK,
            deployed_at=_at(12),
        )
        # The service pack fixes one of Dnipro's incidents: it moves to Released (and its
        # reporter is told) when 11.3 SP1 succeeds on Dnipro's production.
        fixed = (
            Ticket.objects.filter(organisation=org, category=Category.INCIDENT)
            .order_by("pk")
            .first()
        )
        if fixed is not None:
            mark_delivered(release=r["11.3 SP1"], ticket=fixed, actor=consultant)
        _matrix(org, partner="Kyiv Soft Partner LLC")

    # Lumière: still on 11.2; 11.3 failed on test and the emergency hotfix path was not used.
    org = orgs.get("lumiere")
    if org is not None:
        erp = erp_of(org)
        _env(erp, Environment.Kind.PRODUCTION, "Production", r["11.2"], Party.VENDOR)
        test = _env(erp, Environment.Kind.TEST, "Test", r["11.2"], Party.VENDOR)
        deploy(
            release=r["11.3"],
            environment=test,
            actor=manager,
            result=FAILED,
            deployed_at=_at(8),
            notes="Migration of the VAT tables failed; rolled back.",
        )
        _matrix(org, partner="Lyon ERP Services")

    _rollouts(r, manager)


def _rollouts(r: dict[str, Release], manager) -> None:
    """11.3 went to Carpathia's and Dnipro's production as one rollout (recorded from the
    deployments above); 11.3 SP1 is planned for Dnipro's production and failover."""
    done = Rollout.objects.create(
        release=r["11.3"], created_by=manager, notes="Mass update to 11.3 (VAT reports)."
    )
    for deployment in Deployment.objects.filter(
        release=r["11.3"], environment__kind=Environment.Kind.PRODUCTION
    ).select_related("environment"):
        PlannedUpgrade.objects.create(
            rollout=done,
            environment=deployment.environment,
            planned_at=deployment.deployed_at,
            state=deployment.result,
            deployment=deployment,
        )
    dnipro = Environment.objects.filter(
        organisation__code="dnipro",
        kind__in=[Environment.Kind.PRODUCTION, Environment.Kind.BACKUP],
    )
    if dnipro.exists():
        plan_rollout(
            release=r["11.3 SP1"],
            environments=list(dnipro),
            day=date.today() + timedelta(days=7),
            at_time=time(19, 0),
            actor=manager,
            notes="Service pack for the posting fix; Dnipro agreed to an evening slot.",
        )
