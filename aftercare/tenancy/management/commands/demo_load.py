"""Load demo data: idempotent, so ``make run`` can call it every time."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from aftercare.accounts.models import User
from aftercare.accounts.roles import GROUP_NAMES, Role
from aftercare.desk import services
from aftercare.desk.models import Category, Channel, Priority, Status
from aftercare.ops.maintenance import WritingCommand
from aftercare.sla.models import SlaPlan
from aftercare.tenancy.models import ContactPerson, Contract, Membership, Organisation, System
from aftercare.tenancy.scoping import system_scope

PASSWORD = "aftercare-demo"  # noqa: S105 - demo accounts on a local instance only

STAFF = [
    ("admin", "Ada", "Admin", Role.ADMIN, "en"),
    ("operator", "Olga", "Operator", Role.OPERATOR, "uk"),
    ("consultant", "Costin", "Consultant", Role.CONSULTANT, "ro"),
    ("developer", "Dmitri", "Developer", Role.DEVELOPER, "ru"),
    ("manager", "Margot", "Manager", Role.MANAGER, "fr"),
]
ORGS = [
    ("carpathia", "Carpathia Foods SRL", "RO", "Europe/Bucharest", "ro", "carpathia.example"),
    ("dnipro", "Dnipro Logistics LLC", "UA", "Europe/Kyiv", "uk", "dnipro.example"),
    ("lumiere", "Lumière Distribution SA", "FR", "Europe/Paris", "fr", "lumiere.example"),
]


class Command(WritingCommand):
    help = "Create demo organisations, users and requests (safe to run again)."

    def handle(self, *args, **options):
        with system_scope(), transaction.atomic():
            created = self._load()
        self.stdout.write(
            self.style.SUCCESS("Demo data loaded." if created else "Demo data already present.")
        )
        self.stdout.write(f"Demo logins (password for all: {PASSWORD}):")
        for username, *_rest, role, _lang in STAFF:
            self.stdout.write(f"  {username:<22} {Role(role).label}")
        for code, *_r in ORGS:
            self.stdout.write(f"  {code + '.user':<22} {Role.CUSTOMER.label} ({code})")
            self.stdout.write(f"  {code + '.coordinator':<22} {Role.COORDINATOR.label} ({code})")

    def _user(self, username, first, last, email, language, superuser=False) -> User:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": email,
                "language": language,
                "is_staff": superuser,
                "is_superuser": superuser,
            },
        )
        if created:
            user.set_password(PASSWORD)
            user.save()
        return user

    def _load(self) -> bool:
        if Organisation.objects.filter(code="carpathia").exists():
            return False
        staff = {}
        for username, first, last, role, lang in STAFF:
            user = self._user(
                username,
                first,
                last,
                f"{username}@vendor.example",
                lang,
                superuser=role == Role.ADMIN,
            )
            user.groups.add(Group.objects.get(name=GROUP_NAMES[role]))
            staff[role] = user
        today = date.today()
        for code, name, country, tz, lang, domain in ORGS:
            org = Organisation.objects.create(
                code=code,
                name=name,
                country=country,
                time_zone=tz,
                language=lang,
                mail_domains=domain,
            )
            contract = Contract.objects.create(
                organisation=org,
                number=f"SUP-{code.upper()}-01",
                starts_on=today - timedelta(days=400),
                sla_plan=SlaPlan.objects.filter(is_default=True).first(),
            )
            erp = System.objects.create(
                organisation=org,
                name="ERP production",
                product="Aftercare ERP",
                version="11.2",
                licence=f"LIC-{code.upper()}-001",
                contract=contract,
            )
            System.objects.create(
                organisation=org,
                name="CRM",
                product="Aftercare CRM",
                version="5.0",
                contract=contract,
            )
            user = self._user(
                f"{code}.user",
                "Ion" if country == "RO" else "Alex",
                name.split()[0],
                f"user@{domain}",
                lang,
            )
            coord = self._user(
                f"{code}.coordinator", "Maria", name.split()[0], f"coordinator@{domain}", lang
            )
            Membership.objects.create(user=user, organisation=org, role=Role.CUSTOMER)
            Membership.objects.create(user=coord, organisation=org, role=Role.COORDINATOR)
            ContactPerson.objects.create(
                organisation=org,
                user=coord,
                name=coord.get_full_name(),
                email=coord.email,
                role="IT manager",
                is_primary=True,
            )
            ContactPerson.objects.create(
                organisation=org,
                name="Chief accountant",
                email=f"accounting@{domain}",
                role="Key user, finance",
            )
            self._tickets(org, user, coord, erp, staff)
        self._mail(staff)
        __import__("aftercare.monitoring.demo", fromlist=["load"]).load()
        __import__("aftercare.lifecycle.demo", fromlist=["load"]).load(staff)
        __import__("aftercare.projects.demo", fromlist=["load"]).load(staff)
        __import__("aftercare.saas.demo", fromlist=["load"]).load(staff)
        __import__("aftercare.kb.demo", fromlist=["load"]).load(staff)
        __import__("aftercare.artefacts.demo", fromlist=["load"]).load(staff)
        __import__("aftercare.availability.demo", fromlist=["load"]).load(staff)
        __import__("aftercare.alerts.demo", fromlist=["load"]).load(staff)
        # The demo's history would otherwise flood the terminal with a hundred mails the
        # moment the worker starts; they stay in the outbox, marked as not sent.
        from aftercare.mail.models import OutboundMail

        OutboundMail.objects.filter(state=OutboundMail.State.QUEUED).update(
            state=OutboundMail.State.SUPPRESSED, last_error="demo data: not sent"
        )
        return True

    def _mail(self, staff):
        """A request that came by e-mail, a stranger's mail waiting in triage, and an
        approval the Carpathia coordinator is asked for."""
        from email.message import EmailMessage

        from aftercare.desk import approvals
        from aftercare.mail.ingest import ingest

        def mail(sender, subject, body, message_id):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = sender, "support@localhost", subject
            msg["Message-ID"] = message_id
            msg.set_content(body)
            return msg.as_bytes()

        filed = ingest(
            mail(
                "Ion Carpathia <user@carpathia.example>",
                "Raportul de stoc arată solduri negative",
                "Bună ziua,\n\nDe azi dimineață raportul de stoc arată solduri negative "
                "pentru depozitul central.\n\nMulțumesc,\nIon",
                "<demo-1@carpathia.example>",
            ),
            source="demo",
        ).inbound
        ingest(
            mail(
                "Prospect <it@newcustomer.example>",
                "Question about your ERP support",
                "Hello, do you also support version 9 installations?",
                "<demo-2@newcustomer.example>",
            ),
            source="demo",
        )
        if filed.ticket_id:
            approvals.request(
                ticket=filed.ticket,
                actor=staff[Role.CONSULTANT],
                action="Correct the stock balances of the central warehouse directly in the "
                "production database (UPDATE on 214 rows, after a backup).",
                target_status=Status.IN_PROGRESS,
            )

    def _tickets(self, org, user, coord, erp, staff):
        now = timezone.now()
        samples = [
            (
                Category.INCIDENT,
                Priority.HIGH,
                "Invoices cannot be posted",
                "Posting a sales invoice fails with 'period closed' although the period is open.",
                Status.IN_PROGRESS,
            ),
            (
                Category.CONSULTATION,
                Priority.NORMAL,
                "How to set up a new VAT rate",
                "We need the 11% VAT rate from next month. Which settings are involved?",
                Status.WAITING,
            ),
            (
                Category.CHANGE,
                Priority.NORMAL,
                "New field on the delivery note",
                "Please add the driver's phone number to the printed delivery note.",
                Status.SPRINT,
            ),
            (
                Category.DOCUMENTATION,
                Priority.LOW,
                "Manual for the warehouse module",
                "We need the user manual for the warehouse module in our language.",
                Status.RELEASED,
            ),
            (
                Category.PROBLEM,
                Priority.CRITICAL,
                "Nightly exchange-rate import stops",
                "Since Monday the import of exchange rates stops at 02:00 with a timeout.",
                Status.BACKLOG,
            ),
            (
                Category.IMPROVEMENT,
                Priority.LOW,
                "Remember the last warehouse chosen",
                "It would save time if the document form remembered the last warehouse.",
                Status.DONE,
            ),
        ]
        for i, (category, priority, subject, body, target) in enumerate(samples):
            reporter = coord if i % 3 == 0 else user
            ticket = services.open_ticket(
                actor=reporter,
                organisation=org,
                subject=subject,
                description=body,
                category=category,
                priority=priority,
                system=erp,
                channel=Channel.PORTAL,
                created_at=now - timedelta(hours=3 + 7 * i),
            )
            self._walk(ticket, target, staff, reporter)
            if i == 0:
                self._collaborate(ticket, staff, user)

    def _collaborate(self, ticket, staff, colleague):
        """A watcher, a copied colleague and a mention, so the bell has something to say."""
        from aftercare.notifications import services as notify

        notify.follow(ticket=ticket, actor=staff[Role.OPERATOR], user=staff[Role.MANAGER])
        if colleague.pk != ticket.reporter_id:
            notify.follow(ticket=ticket, actor=staff[Role.OPERATOR], user=colleague)
        consultant = staff[Role.CONSULTANT]
        services.reply(
            ticket=ticket,
            actor=staff[Role.OPERATOR],
            internal=True,
            body=f"@{consultant.username} the customer says the period is open; "
            "please check the posting calendar of their second company.",
            channel=Channel.CONSOLE,
        )

    def _walk(self, ticket, target, staff, reporter):
        path = {
            Status.BACKLOG: [],
            Status.SPRINT: [Status.SPRINT],
            Status.IN_PROGRESS: [Status.SPRINT, Status.IN_PROGRESS],
            Status.WAITING: [Status.IN_PROGRESS, Status.WAITING],
            Status.DONE: [Status.SPRINT, Status.IN_PROGRESS, Status.DONE],
            Status.RELEASED: [Status.SPRINT, Status.IN_PROGRESS, Status.DONE, Status.RELEASED],
        }[target]
        consultant = staff[Role.CONSULTANT]
        if path:
            services.escalate(
                ticket=ticket,
                actor=staff[Role.OPERATOR],
                assignee=consultant,
                note="Needs a consultant.",
            )
        for status in path:
            services.transition(ticket=ticket, actor=consultant, target=status)
            if status == Status.IN_PROGRESS:
                services.reply(
                    ticket=ticket,
                    actor=consultant,
                    body="We are looking into it and will come back today.",
                    channel=Channel.CONSOLE,
                )
        if target == Status.WAITING:
            services.reply(
                ticket=ticket,
                actor=consultant,
                body="Could you send a screenshot of the settings page?",
                channel=Channel.CONSOLE,
            )
