"""The rules of go-live plans and snag lists. Every change goes through here.

Each function checks the actor's permission, runs in one transaction, re-reads the rows
it decides on under a row lock, refuses with a ``PlanError`` that says why, and writes a
``ProjectEvent``. Views, demo data and tests call these functions; none of them writes a
plan row directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet, Role
from aftercare.projects.models import (
    Criterion,
    CriterionRule,
    Decision,
    Incident,
    Participant,
    PlanTemplate,
    Project,
    ProjectEvent,
    Side,
    Snag,
    Stage,
    StageKind,
    Task,
    TemplateCriterion,
    TemplateStage,
    TemplateTask,
)
from aftercare.tenancy.models import Membership, Organisation, System

MANAGE = "projects.change_project"
EDIT_TEMPLATES = "projects.change_plantemplate"


class PlanError(Exception):
    """A plan rule refused the change; ``message`` says why, for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _require(actor: User, perm: str, organisation_id: int | None = None) -> PermSet:
    permset = PermSet(actor)
    if not permset.is_agent or not permset.has(perm):
        raise PermissionDenied(_("You may not change go-live plans."))
    if organisation_id is not None:
        scope = permset.organisation_scope
        if scope is not None and organisation_id not in scope:
            raise PermissionDenied(_("You may not change this organisation's projects."))
    return permset


def _log(project: Project, actor: User | None, action: str, note: str = "") -> ProjectEvent:
    return ProjectEvent.objects.create(
        project=project,
        organisation_id=project.organisation_id,
        actor=actor,
        action=action,
        note=note[:2000],
    )


def _open_project(project: Project) -> Project:
    fresh = Project.objects.select_for_update().get(pk=project.pk)
    if not fresh.is_open:
        raise PlanError(_("The project is closed."))
    return fresh


def _is_member(user: User, organisation_id: int) -> bool:
    return Membership.objects.filter(user=user, organisation_id=organisation_id).exists()


# -- creating a plan ---------------------------------------------------------------------


def instantiate_plan(template: PlanTemplate, project: Project) -> list[Stage]:
    """Copy the template's stages, tasks and gate criteria into the project's plan.

    Due dates count back from the go-live date by each stage's offset. Called inside the
    transaction that creates the project; a project's plan is made once.
    """
    if project.stages.exists():
        raise PlanError(_("This project already has a plan."))
    stages = []
    template_stages = template.stages.prefetch_related("tasks", "criteria").order_by(
        "position", "pk"
    )
    for position, ts in enumerate(template_stages, start=1):
        due = None
        if ts.due_offset_days is not None:
            due = project.go_live_on - timedelta(days=ts.due_offset_days)
        stage = Stage.objects.create(
            organisation_id=project.organisation_id,
            project=project,
            position=position,
            title=ts.title,
            description=ts.description,
            kind=ts.kind,
            due_on=due,
        )
        Task.objects.bulk_create(
            Task(
                organisation_id=project.organisation_id,
                stage=stage,
                position=t.position,
                text=t.text,
            )
            for t in ts.tasks.all()
        )
        Criterion.objects.bulk_create(
            Criterion(
                organisation_id=project.organisation_id,
                stage=stage,
                position=c.position,
                text=c.text,
                must_be_first=c.must_be_first,
                rule=c.rule,
            )
            for c in ts.criteria.all()
        )
        stages.append(stage)
    if project.template_id != template.pk:
        project.template = template
        project.save(update_fields=["template"])
    return stages


@transaction.atomic
def create_project(
    *,
    actor: User,
    organisation: Organisation,
    name: str,
    go_live_on: date,
    template: PlanTemplate,
    system: System | None = None,
) -> Project:
    _require(actor, MANAGE, organisation.pk)
    name = name.strip()
    if not name:
        raise PlanError(_("A project needs a name."))
    if system is not None and system.organisation_id != organisation.pk:
        raise PlanError(_("This system belongs to another organisation."))
    project = Project.objects.create(
        organisation=organisation,
        system=system,
        name=name,
        go_live_on=go_live_on,
        template=template,
        created_by=actor,
    )
    instantiate_plan(template, project)
    _log(project, actor, "projects.project.created", template.name)
    return project


# -- stages, tasks, criteria -------------------------------------------------------------


def _logins_untested(project: Project) -> list[Participant]:
    return list(
        project.participants.filter(is_target_user=True, login_tested_at__isnull=True).order_by(
            "name"
        )
    )


def _rule_refusal(criterion: Criterion, project: Project) -> str | None:
    if criterion.rule == CriterionRule.LOGINS_TESTED:
        untested = _logins_untested(project)
        if untested:
            return _("The login of %(count)d target user(s) is not tested yet: %(names)s.") % {
                "count": len(untested),
                "names": ", ".join(p.name for p in untested[:10]),
            }
        if not project.participants.filter(is_target_user=True).exists():
            return _("No target users are registered as participants yet.")
    return None


@transaction.atomic
def set_criterion(*, criterion: Criterion, actor: User, met: bool) -> Criterion:
    """Mark a gate criterion met (or open again), under the stage's rules.

    A criterion flagged ``must_be_first`` (the backup before the test session) must be
    met before any other criterion of its stage, and cannot be opened again while
    another one is met. A computed criterion (``rule``) is met only if its rule holds.
    """
    _require(actor, MANAGE, criterion.organisation_id)
    stage = Stage.objects.select_for_update().get(pk=criterion.stage_id)
    project = _open_project(stage.project)
    if stage.is_closed:
        raise PlanError(_("The stage “%(stage)s” is closed.") % {"stage": stage.title})
    criterion = Criterion.objects.select_for_update().get(pk=criterion.pk)
    if criterion.is_met == met:
        return criterion
    others = stage.criteria.exclude(pk=criterion.pk)
    if met:
        if not criterion.must_be_first:
            first = others.filter(must_be_first=True, met_at__isnull=True).first()
            if first is not None:
                raise PlanError(
                    _("“%(first)s” must be met before any other criterion of this stage.")
                    % {"first": first.text}
                )
        refusal = _rule_refusal(criterion, project)
        if refusal:
            raise PlanError(refusal)
        criterion.met_at, criterion.met_by = timezone.now(), actor
    else:
        if criterion.must_be_first and others.filter(met_at__isnull=False).exists():
            raise PlanError(
                _("“%(first)s” cannot be opened again while other criteria are met.")
                % {"first": criterion.text}
            )
        criterion.met_at, criterion.met_by = None, None
    criterion.save(update_fields=["met_at", "met_by"])
    _log(
        project,
        actor,
        "projects.criterion.met" if met else "projects.criterion.reopened",
        f"{stage.position}. {criterion.text}",
    )
    return criterion


@transaction.atomic
def set_criteria(*, stage: Stage, actor: User, met_ids: Iterable[int]) -> int:
    """Save a stage's checklist at once: all or nothing; must-be-first ones go first."""
    wanted = {int(i) for i in met_ids}
    criteria = list(stage.criteria.all())
    changes = [c for c in criteria if c.is_met != (c.pk in wanted)]
    # Marks: the must-be-first ones before the others. Unmarks: the others first.
    marks = sorted((c for c in changes if c.pk in wanted), key=lambda c: not c.must_be_first)
    unmarks = sorted((c for c in changes if c.pk not in wanted), key=lambda c: c.must_be_first)
    for c in unmarks:
        set_criterion(criterion=c, actor=actor, met=False)
    for c in marks:
        set_criterion(criterion=c, actor=actor, met=True)
    return len(changes)


def close_refusal(stage: Stage) -> str | None:
    """Why the stage cannot be closed now, or ``None`` if it can."""
    project = stage.project
    if not project.is_open:
        return _("The project is closed.")
    if stage.is_closed:
        return _("The stage is already closed.")
    previous = (
        project.stages.filter(position__lt=stage.position, closed_at__isnull=True)
        .order_by("position")
        .first()
    )
    if previous is not None:
        return _("Stage %(position)d “%(stage)s” must be closed first.") % {
            "position": previous.position,
            "stage": previous.title,
        }
    open_criteria = [c.text for c in stage.criteria.all() if not c.is_met]
    if open_criteria:
        return _("Gate criteria still open: %(list)s.") % {"list": "; ".join(open_criteria)}
    for criterion in stage.criteria.exclude(rule=""):
        refusal = _rule_refusal(criterion, project)
        if refusal:
            return refusal
    if stage.kind == StageKind.DECISION:
        latest = project.decisions.order_by("-recorded_at", "-pk").first()
        if latest is None or latest.outcome != Decision.Outcome.GO:
            return _("Record a “go” decision before closing this stage.")
    return None


@transaction.atomic
def close_stage(*, stage: Stage, actor: User) -> Stage:
    """Close a stage: only in order, and only when its gate criteria are all met."""
    _require(actor, MANAGE, stage.organisation_id)
    _open_project(stage.project)
    stage = Stage.objects.select_for_update().select_related("project").get(pk=stage.pk)
    refusal = close_refusal(stage)
    if refusal:
        raise PlanError(refusal)
    stage.closed_at, stage.closed_by = timezone.now(), actor
    stage.save(update_fields=["closed_at", "closed_by"])
    _log(stage.project, actor, "projects.stage.closed", str(stage))
    return stage


@transaction.atomic
def reopen_stage(*, stage: Stage, actor: User) -> Stage:
    """Open a closed stage again; the stages after it must be open (order is kept)."""
    _require(actor, MANAGE, stage.organisation_id)
    project = _open_project(stage.project)
    stage = Stage.objects.select_for_update().get(pk=stage.pk)
    if not stage.is_closed:
        return stage
    later = project.stages.filter(position__gt=stage.position, closed_at__isnull=False).first()
    if later is not None:
        raise PlanError(
            _("Stage %(position)d is closed after this one; reopen it first.")
            % {"position": later.position}
        )
    stage.closed_at, stage.closed_by = None, None
    stage.save(update_fields=["closed_at", "closed_by"])
    _log(project, actor, "projects.stage.reopened", str(stage))
    return stage


@transaction.atomic
def update_stage(
    *,
    stage: Stage,
    actor: User,
    vendor_owner: User | None,
    customer_owner: User | None,
    due_on: date | None,
) -> Stage:
    """Owners on both sides and the due date: the vendor's is staff, the customer's a
    member of the project's organisation."""
    _require(actor, MANAGE, stage.organisation_id)
    project = _open_project(stage.project)
    if vendor_owner is not None and not PermSet(vendor_owner).is_agent:
        raise PlanError(_("The vendor owner must be a member of staff."))
    if customer_owner is not None and not _is_member(customer_owner, project.organisation_id):
        raise PlanError(_("The customer owner must be a user of the customer's organisation."))
    stage = Stage.objects.select_for_update().get(pk=stage.pk)
    stage.vendor_owner, stage.customer_owner, stage.due_on = vendor_owner, customer_owner, due_on
    stage.save(update_fields=["vendor_owner", "customer_owner", "due_on"])
    _log(project, actor, "projects.stage.updated", str(stage))
    return stage


@transaction.atomic
def set_task_done(*, task: Task, actor: User, done: bool) -> Task:
    _require(actor, MANAGE, task.organisation_id)
    project = _open_project(task.stage.project)
    task = Task.objects.select_for_update().get(pk=task.pk)
    if (task.done_at is not None) == done:
        return task
    task.done_at, task.done_by = (timezone.now(), actor) if done else (None, None)
    task.save(update_fields=["done_at", "done_by"])
    _log(project, actor, "projects.task.done" if done else "projects.task.reopened", task.text)
    return task


# -- participants and notice ------------------------------------------------------------


@transaction.atomic
def add_participant(
    *,
    project: Project,
    actor: User,
    name: str,
    side: str,
    email: str = "",
    user: User | None = None,
    role: str = "",
    is_target_user: bool = True,
) -> Participant:
    _require(actor, MANAGE, project.organisation_id)
    project = _open_project(project)
    if side not in Side.values:
        raise PlanError(_("Choose the vendor or the customer side."))
    if user is not None:
        if side == Side.CUSTOMER and not _is_member(user, project.organisation_id):
            raise PlanError(_("This user account is not a user of the customer's organisation."))
        if side == Side.VENDOR and not PermSet(user).is_agent:
            raise PlanError(_("A vendor participant's account must be a member of staff."))
        name = name.strip() or user.display_name
        email = email.strip() or user.email
    if not name.strip():
        raise PlanError(_("A participant needs a name."))
    participant = Participant.objects.create(
        organisation_id=project.organisation_id,
        project=project,
        name=name.strip(),
        email=email.strip(),
        user=user,
        side=side,
        role=role.strip(),
        is_target_user=is_target_user,
    )
    _log(project, actor, "projects.participant.added", participant.name)
    return participant


PARTICIPANT_MARKS = {
    "credentials": "credentials_at",
    "login": "login_tested_at",
    "training": "trained_at",
}


@transaction.atomic
def mark_participant(
    *, participant: Participant, actor: User, what: str, done: bool = True, at=None
) -> Participant:
    """Record (or clear) credentials received, login tested or training attended."""
    _require(actor, MANAGE, participant.organisation_id)
    project = _open_project(participant.project)
    field = PARTICIPANT_MARKS.get(what)
    if field is None:
        raise PlanError(_("Unknown participant record."))
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if not done and field == "login_tested_at":
        met = Criterion.objects.filter(
            stage__project=project,
            rule=CriterionRule.LOGINS_TESTED,
            met_at__isnull=False,
            stage__closed_at__isnull=True,
        ).exists()
        if met and participant.is_target_user:
            raise PlanError(
                _(
                    "Open the criterion “every target user's login tested” before clearing a login test."
                )
            )
    setattr(participant, field, (at or timezone.now()) if done else None)
    participant.save(update_fields=[field])
    _log(
        project,
        actor,
        f"projects.participant.{what}" + ("" if done else ".cleared"),
        participant.name,
    )
    return participant


@transaction.atomic
def record_users_informed(*, project: Project, actor: User, on: date) -> Project:
    _require(actor, MANAGE, project.organisation_id)
    project = _open_project(project)
    project.users_informed_on, project.users_informed_by = on, actor
    project.save(update_fields=["users_informed_on", "users_informed_by"])
    _log(project, actor, "projects.users.informed", on.isoformat())
    return project


def notice_warning(project: Project) -> str | None:
    """Why the end users' notice is short, or ``None`` when they were told in time.

    "In time" is at least ``AFTERCARE_GOLIVE_NOTICE_DAYS`` days before the go-live date.
    """
    if not project.is_open:
        return None
    days = settings.AFTERCARE_GOLIVE_NOTICE_DAYS
    informed = project.users_informed_on
    if informed is None:
        return _(
            "The users have not been informed yet; they must be told at least %(days)d days "
            "before the go-live on %(date)s."
        ) % {"days": days, "date": project.go_live_on.isoformat()}
    if (project.go_live_on - informed).days < days:
        return _(
            "The users were informed on %(informed)s, less than %(days)d days before the "
            "go-live on %(date)s."
        ) % {"informed": informed.isoformat(), "days": days, "date": project.go_live_on.isoformat()}
    return None


def projects_with_short_notice(projects: Iterable[Project]) -> list[tuple[Project, str]]:
    """The check over many projects (for lists and reports)."""
    found = []
    for project in projects:
        warning = notice_warning(project)
        if warning:
            found.append((project, warning))
    return found


# -- incidents ---------------------------------------------------------------------------


@transaction.atomic
def open_incident(
    *,
    project: Project,
    actor: User,
    subject: str,
    description: str,
    reporter: User,
    priority: int = 3,
) -> Incident:
    """File a desk request for an incident of the project (the test session's usually)."""
    from aftercare.desk import services as desk
    from aftercare.desk.models import Category, Channel

    _require(actor, MANAGE, project.organisation_id)
    project = _open_project(project)
    if not _is_member(reporter, project.organisation_id):
        raise PlanError(_("The reporter must be a user of the customer's organisation."))
    ticket = desk.open_ticket(
        actor=actor,
        organisation=project.organisation,
        reporter=reporter,
        subject=subject,
        description=description,
        category=Category.INCIDENT,
        priority=priority,
        channel=Channel.CONSOLE,
        system=project.system,
    )
    return _link(project, actor, ticket, "projects.incident.opened")


def _link(project: Project, actor: User, ticket, action: str) -> Incident:
    incident, created = Incident.objects.get_or_create(
        project=project,
        ticket=ticket,
        defaults={"organisation_id": project.organisation_id, "linked_by": actor},
    )
    if created:
        _log(project, actor, action, ticket.number)
    return incident


@transaction.atomic
def link_ticket(*, project: Project, actor: User, ticket) -> Incident:
    """Link an existing request; only one of the project's own organisation."""
    permset = _require(actor, MANAGE, project.organisation_id)
    project = _open_project(project)
    from aftercare.desk.querysets import visible_tickets

    if ticket.organisation_id != project.organisation_id or not (
        visible_tickets(permset).filter(pk=ticket.pk).exists()
    ):
        raise PlanError(_("Only a request of the project's own organisation can be linked."))
    if Incident.objects.filter(project=project, ticket=ticket).exists():
        raise PlanError(_("This request is already linked."))
    return _link(project, actor, ticket, "projects.incident.linked")


# -- the decision ------------------------------------------------------------------------


@transaction.atomic
def decide(
    *,
    project: Project,
    actor: User,
    outcome: str,
    decided_on: date,
    reasons: str,
    participants: Iterable[Participant],
    new_go_live_on: date | None = None,
) -> Decision:
    """Record the go/no-go decision.

    "Go" needs every stage before the decision stage closed. "Postpone" needs a new date
    after the current one and moves the project's go-live date (and the open stages' due
    dates with it).
    """
    _require(actor, MANAGE, project.organisation_id)
    project = _open_project(project)
    participants = list(participants)
    if any(p.project_id != project.pk for p in participants):
        raise PlanError(_("Only the project's participants can take part in its decision."))
    if not participants:
        raise PlanError(_("Name the participants who took the decision."))
    if not reasons.strip():
        raise PlanError(_("Give the reasons for the decision."))
    stage = project.stages.filter(kind=StageKind.DECISION).order_by("position").first()
    if stage is not None and stage.is_closed:
        raise PlanError(_("The decision stage is already closed."))
    if outcome == Decision.Outcome.GO:
        limit = stage.position if stage is not None else None
        before = project.stages.filter(closed_at__isnull=True)
        if limit is not None:
            before = before.filter(position__lt=limit)
        else:
            before = before.exclude(kind=StageKind.GO_LIVE)
        still_open = list(before.order_by("position"))
        if still_open:
            raise PlanError(
                _("“Go” needs every stage before the decision closed; still open: %(list)s.")
                % {"list": ", ".join(str(s.position) for s in still_open)}
            )
        new_go_live_on = None
    elif outcome == Decision.Outcome.POSTPONE:
        if new_go_live_on is None:
            raise PlanError(_("A postponement needs the new go-live date."))
        if new_go_live_on <= project.go_live_on:
            raise PlanError(_("The new go-live date must be after the current one."))
    else:
        raise PlanError(_("Choose go or postpone."))
    decision = Decision.objects.create(
        organisation_id=project.organisation_id,
        project=project,
        decided_on=decided_on,
        outcome=outcome,
        reasons=reasons.strip(),
        new_go_live_on=new_go_live_on,
        previous_go_live_on=project.go_live_on,
        recorded_by=actor,
    )
    decision.participants.set(participants)
    if outcome == Decision.Outcome.POSTPONE:
        shift = new_go_live_on - project.go_live_on
        for open_stage in project.stages.filter(closed_at__isnull=True, due_on__isnull=False):
            open_stage.due_on += shift
            open_stage.save(update_fields=["due_on"])
        project.go_live_on = new_go_live_on
        project.save(update_fields=["go_live_on"])
        _log(project, actor, "projects.decision.postpone", new_go_live_on.isoformat())
    else:
        _log(project, actor, "projects.decision.go", decided_on.isoformat())
    return decision


# -- snags and closing -------------------------------------------------------------------


@transaction.atomic
def add_snag(
    *,
    project: Project,
    actor: User,
    text: str,
    owner: User | None = None,
    due_on: date | None = None,
) -> Snag:
    _require(actor, MANAGE, project.organisation_id)
    project = _open_project(project)
    if not text.strip():
        raise PlanError(_("Describe the action point."))
    if owner is not None and not (
        PermSet(owner).is_agent or _is_member(owner, project.organisation_id)
    ):
        raise PlanError(_("The owner must be staff or a user of the customer's organisation."))
    snag = Snag.objects.create(
        organisation_id=project.organisation_id,
        project=project,
        text=text.strip(),
        owner=owner,
        due_on=due_on,
        created_by=actor,
    )
    _log(project, actor, "projects.snag.added", snag.text)
    return snag


@transaction.atomic
def set_snag_status(*, snag: Snag, actor: User, status: str, reason: str = "") -> Snag:
    _require(actor, MANAGE, snag.organisation_id)
    project = _open_project(snag.project)
    if status not in Snag.Status.values:
        raise PlanError(_("Unknown status."))
    snag = Snag.objects.select_for_update().get(pk=snag.pk)
    if status == Snag.Status.DROPPED and not reason.strip():
        raise PlanError(_("Say why the action point is dropped."))
    old = snag.status
    snag.status = status
    snag.drop_reason = reason.strip() if status == Snag.Status.DROPPED else ""
    snag.save(update_fields=["status", "drop_reason"])
    _log(project, actor, "projects.snag.status", f"{snag.text}: {old} → {status}")
    return snag


@transaction.atomic
def snag_to_ticket(*, snag: Snag, actor: User, reporter: User | None = None):
    """Turn an action point into a desk request (once) and link it."""
    from aftercare.desk import services as desk
    from aftercare.desk.models import Category, Channel

    _require(actor, MANAGE, snag.organisation_id)
    project = _open_project(snag.project)
    snag = Snag.objects.select_for_update().get(pk=snag.pk)
    if snag.ticket_id:
        raise PlanError(_("This action point already has a request."))
    if reporter is None:
        if snag.owner is not None and _is_member(snag.owner, project.organisation_id):
            reporter = snag.owner
        else:
            members = Membership.objects.filter(organisation_id=project.organisation_id)
            member = (
                members.filter(role=Role.COORDINATOR).order_by("pk").first()
                or members.order_by("pk").first()
            )
            reporter = member.user if member else None
    if reporter is None:
        raise PlanError(_("The organisation has no users to file the request for."))
    ticket = desk.open_ticket(
        actor=actor,
        organisation=project.organisation,
        reporter=reporter,
        subject=snag.text[:200],
        description=_("Action point of the snag list of %(project)s: %(text)s")
        % {"project": project.name, "text": snag.text},
        category=Category.CHANGE,
        channel=Channel.CONSOLE,
        system=project.system,
    )
    snag.ticket = ticket
    snag.save(update_fields=["ticket"])
    _log(project, actor, "projects.snag.ticket", ticket.number)
    return ticket


@transaction.atomic
def close_project(*, project: Project, actor: User) -> Project:
    """Close the project; refused while any action point of its snag list is open."""
    _require(actor, MANAGE, project.organisation_id)
    project = _open_project(project)
    open_snags = list(
        project.snags.filter(status__in=[Snag.Status.OPEN, Snag.Status.IN_PROGRESS]).order_by("pk")
    )
    if open_snags:
        raise PlanError(
            _("%(count)d action point(s) of the snag list are still open: %(list)s.")
            % {"count": len(open_snags), "list": "; ".join(s.text for s in open_snags[:10])}
        )
    project.status, project.closed_at = Project.Status.CLOSED, timezone.now()
    project.save(update_fields=["status", "closed_at"])
    _log(project, actor, "projects.project.closed")
    return project


# -- template editing (vendor-wide) -------------------------------------------------------


def _template_actor(actor: User) -> None:
    _require(actor, EDIT_TEMPLATES)


def _next_position(qs) -> int:
    return (qs.aggregate(m=Max("position"))["m"] or 0) + 1


@transaction.atomic
def create_template(
    *, actor: User, name: str, copy_from: PlanTemplate | None = None
) -> PlanTemplate:
    _template_actor(actor)
    name = name.strip()
    if not name:
        raise PlanError(_("A template needs a name."))
    if PlanTemplate.objects.filter(name=name).exists():
        raise PlanError(_("A template with this name exists already."))
    template = PlanTemplate.objects.create(name=name)
    if copy_from is not None:
        for ts in copy_from.stages.prefetch_related("tasks", "criteria"):
            stage = TemplateStage.objects.create(
                template=template,
                position=ts.position,
                title=ts.title,
                description=ts.description,
                kind=ts.kind,
                due_offset_days=ts.due_offset_days,
            )
            for t in ts.tasks.all():
                TemplateTask.objects.create(stage=stage, position=t.position, text=t.text)
            for c in ts.criteria.all():
                TemplateCriterion.objects.create(
                    stage=stage,
                    position=c.position,
                    text=c.text,
                    must_be_first=c.must_be_first,
                    rule=c.rule,
                )
    return template


@transaction.atomic
def add_template_stage(
    *,
    template: PlanTemplate,
    actor: User,
    title: str,
    kind: str = StageKind.PLAIN,
    due_offset_days: int | None = None,
    description: str = "",
) -> TemplateStage:
    _template_actor(actor)
    if not title.strip():
        raise PlanError(_("A stage needs a title."))
    if kind not in StageKind.values:
        raise PlanError(_("Unknown stage kind."))
    return TemplateStage.objects.create(
        template=template,
        position=_next_position(template.stages),
        title=title.strip(),
        kind=kind,
        due_offset_days=due_offset_days,
        description=description.strip(),
    )


@transaction.atomic
def update_template_stage(
    *,
    stage: TemplateStage,
    actor: User,
    title: str,
    kind: str,
    due_offset_days: int | None,
    description: str = "",
) -> TemplateStage:
    _template_actor(actor)
    if not title.strip():
        raise PlanError(_("A stage needs a title."))
    if kind not in StageKind.values:
        raise PlanError(_("Unknown stage kind."))
    stage.title, stage.kind = title.strip(), kind
    stage.due_offset_days, stage.description = due_offset_days, description.strip()
    stage.save()
    return stage


def _move(obj, siblings, direction: int) -> None:
    """Swap ``obj`` with its neighbour; positions are renumbered 1..n first."""
    items = list(siblings.order_by("position", "pk"))
    for i, item in enumerate(items, start=1):
        if item.position != i:
            item.position = i
            item.save(update_fields=["position"])
    index = next(i for i, item in enumerate(items) if item.pk == obj.pk)
    other = index + direction
    if 0 <= other < len(items):
        a, b = items[index], items[other]
        a.position, b.position = b.position, a.position
        a.save(update_fields=["position"])
        b.save(update_fields=["position"])


@transaction.atomic
def move_template_item(*, item, actor: User, direction: int) -> None:
    """Move a stage, task or criterion one place up (-1) or down (+1)."""
    _template_actor(actor)
    if isinstance(item, TemplateStage):
        siblings = item.template.stages.all()
    elif isinstance(item, TemplateTask):
        siblings = item.stage.tasks.all()
    else:
        siblings = item.stage.criteria.all()
    _move(item, siblings, -1 if direction < 0 else 1)


@transaction.atomic
def delete_template_item(*, item, actor: User) -> None:
    _template_actor(actor)
    item.delete()


@transaction.atomic
def add_template_task(*, stage: TemplateStage, actor: User, text: str) -> TemplateTask:
    _template_actor(actor)
    if not text.strip():
        raise PlanError(_("Describe the task."))
    return TemplateTask.objects.create(
        stage=stage, position=_next_position(stage.tasks), text=text.strip()
    )


@transaction.atomic
def add_template_criterion(
    *, stage: TemplateStage, actor: User, text: str, must_be_first: bool = False, rule: str = ""
) -> TemplateCriterion:
    _template_actor(actor)
    if not text.strip():
        raise PlanError(_("Describe the gate criterion."))
    if rule not in CriterionRule.values:
        raise PlanError(_("Unknown rule."))
    if must_be_first and stage.criteria.filter(must_be_first=True).exists():
        raise PlanError(_("A stage has at most one criterion that must be met first."))
    return TemplateCriterion.objects.create(
        stage=stage,
        position=_next_position(stage.criteria),
        text=text.strip(),
        must_be_first=must_be_first,
        rule=rule,
    )
