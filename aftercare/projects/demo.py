"""Demo data: one go-live project half-way through, with participants and snags, a test
session scheduled and the plan signed by the vendor, awaiting the customer's sign-off."""

from __future__ import annotations

from datetime import time, timedelta

from django.utils import timezone

from aftercare.accounts.roles import Role
from aftercare.projects import services
from aftercare.projects.defaults import ensure_default
from aftercare.projects.models import PlanTemplate, Project, Side, Snag
from aftercare.tenancy.models import ContactPerson, Membership, Organisation, System


def load(staff: dict) -> Project | None:
    """Carpathia's ERP go-live: stages 1-4 closed, training under way, test session next.

    The support manager signed version 1 of the plan for the vendor; Carpathia's
    coordinator (``carpathia.coordinator``) has not signed yet, so the portal offers them
    the sign-off.

    ``staff`` maps roles to the demo's staff users. Runs inside demo_load's system scope
    and transaction; does nothing when the project exists already.
    """
    org = Organisation.objects.filter(code="carpathia").first()
    if org is None or Project.objects.filter(organisation=org).exists():
        return None
    ensure_default()
    manager, consultant = staff[Role.MANAGER], staff[Role.CONSULTANT]
    today = timezone.localdate()
    project = services.create_project(
        actor=manager,
        organisation=org,
        name="ERP 11 go-live",
        go_live_on=today + timedelta(days=21),
        template=PlanTemplate.objects.get(is_default=True),
        system=System.objects.filter(organisation=org, name="ERP production").first(),
    )
    members = {
        m.role: m.user for m in Membership.objects.filter(organisation=org).select_related("user")
    }
    coordinator = members.get(Role.COORDINATOR)
    user = members.get(Role.CUSTOMER)
    for stage in project.stages.all():
        services.update_stage(
            stage=stage,
            actor=manager,
            vendor_owner=consultant,
            customer_owner=coordinator,
            due_on=stage.due_on,
        )
    for stage in project.stages.filter(position__lte=4).order_by("position"):
        services.set_criteria(
            stage=stage, actor=consultant, met_ids=stage.criteria.values_list("pk", flat=True)
        )
        for task in stage.tasks.all():
            services.set_task_done(task=task, actor=consultant, done=True)
        services.close_stage(stage=stage, actor=consultant)
    training = project.stages.get(position=5)
    services.set_criterion(criterion=training.criteria.first(), actor=consultant, met=True)
    # Told three weeks ahead: fewer than the 30 days' notice, so the plan shows the warning.
    services.record_users_informed(project=project, actor=manager, on=today)

    people = [
        ("", "", coordinator, Side.CUSTOMER, "Project coordinator", True),
        ("", "", user, Side.CUSTOMER, "Key user, sales", True),
        (
            "Elena Contabil",
            "accounting@carpathia.example",
            None,
            Side.CUSTOMER,
            "Chief accountant",
            True,
        ),
        (
            "Mihai Depozit",
            "warehouse@carpathia.example",
            None,
            Side.CUSTOMER,
            "Warehouse lead",
            True,
        ),
        ("", "", consultant, Side.VENDOR, "Implementation consultant", False),
    ]
    for name, email, account, side, role, target in people:
        if account is None and not name:
            continue
        p = services.add_participant(
            project=project,
            actor=consultant,
            name=name,
            email=email,
            user=account,
            side=side,
            role=role,
            is_target_user=target,
        )
        if target:
            services.mark_participant(participant=p, actor=consultant, what="credentials")
            if role != "Warehouse lead":
                services.mark_participant(participant=p, actor=consultant, what="training")
            if account is not None:
                services.mark_participant(participant=p, actor=consultant, what="login")

    snags = [
        ("Invoice print layout misses the VAT column", user, 7, Snag.Status.IN_PROGRESS),
        ("Import the opening stock of warehouse 2", consultant, 10, Snag.Status.OPEN),
        ("Second training for the night shift", coordinator, 14, Snag.Status.OPEN),
    ]
    for text, owner, days, status in snags:
        snag = services.add_snag(
            project=project,
            actor=consultant,
            text=text,
            owner=owner,
            due_on=today + timedelta(days=days),
        )
        if status != Snag.Status.OPEN:
            services.set_snag_status(snag=snag, actor=consultant, status=status)
    first = project.snags.order_by("pk").first()
    services.snag_to_ticket(snag=first, actor=consultant)

    if coordinator is not None:
        services.set_project_people(
            project=project,
            actor=manager,
            technical_coordinator=consultant,
            customer_responsible=coordinator,
        )
    contacts = list(ContactPerson.objects.filter(organisation=org))
    if contacts:
        services.schedule_test_session(
            project=project,
            actor=manager,
            title="Go-live test session with the key users",
            on=project.stages.get(position=6).due_on or today + timedelta(days=14),
            starts=time(9, 0),
            ends=time(13, 0),
            staff_attendees=[consultant, manager],
            contact_attendees=contacts,
            note="Backup first; every key user logs in and runs one invoice.",
        )
    # The vendor has signed the plan; the customer's coordinator is asked to sign next.
    services.sign_off(
        project=project,
        actor=manager,
        kind="plan",
        note="Plan agreed at the kick-off; dates as in the contract.",
    )
    return project
