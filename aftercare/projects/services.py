"""The rules of go-live plans and snag lists. Every change goes through here.

Each function checks the actor's permission, runs in one transaction, re-reads the rows
it decides on under a row lock, refuses with a ``PlanError`` that says why, and writes a
``ProjectEvent``. Views, demo data and tests call these functions; none of them writes a
plan row directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet, Role
from aftercare.ops.maintenance import check_writable
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
    SignOff,
    Snag,
    Stage,
    StageKind,
    Task,
    TemplateCriterion,
    TemplateStage,
    TemplateTask,
    TestSession,
)
from aftercare.tenancy.models import ContactPerson, Membership, Organisation, System

MANAGE = "projects.change_project"
EDIT_TEMPLATES = "projects.change_plantemplate"
# Signing for the vendor is a manager's (and an administrator's) act: the permission the
# staff roles give exactly them among the project permissions, next to managing plans.
SIGN_VENDOR = EDIT_TEMPLATES
# A desk request linked to a project is settled in these statuses.
SETTLED_TICKET_STATUSES = ("released", "archived", "rejected")


class PlanError(Exception):
    """A plan rule refused the change; ``message`` says why, for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _require(actor: User, perm: str, organisation_id: int | None = None) -> PermSet:
    check_writable()
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


def _credentials_missing(project: Project) -> list[Participant]:
    return list(
        project.participants.filter(is_target_user=True, credentials_at__isnull=True).order_by(
            "name"
        )
    )


def _rule_refusal(criterion: Criterion, project: Project) -> str | None:
    """Why a computed criterion does not hold now, or ``None`` when it does."""
    if criterion.rule == CriterionRule.LOGINS_TESTED:
        untested = _logins_untested(project)
        if untested:
            return _("The login of %(count)d target user(s) is not tested yet: %(names)s.") % {
                "count": len(untested),
                "names": ", ".join(p.name for p in untested[:10]),
            }
        if not project.participants.filter(is_target_user=True).exists():
            return _("No target users are registered as participants yet.")
    if criterion.rule == CriterionRule.CREDENTIALS_DISTRIBUTED:
        missing = _credentials_missing(project)
        if missing:
            return _(
                "%(count)d target user(s) have not received their credentials yet: %(names)s."
            ) % {"count": len(missing), "names": ", ".join(p.name for p in missing[:10])}
        if not project.participants.filter(is_target_user=True).exists():
            return _("No target users are registered as participants yet.")
    if criterion.rule == CriterionRule.USERS_INFORMED:
        informed = project.users_informed_on
        if informed is None:
            return _("Record when the users were informed first.")
        if informed > timezone.localdate():
            return _("The users-informed date %(date)s is in the future.") % {
                "date": informed.isoformat()
            }
    return None


def _plan_changed(project: Project, actor: User | None, what: str) -> None:
    """The plan's content changed: if anyone signed the current version, start a new one.

    Sign-offs keep the version they signed, so they show as outdated and the plan (and a
    decision signed on it) must be signed again. Called inside the writer's transaction.
    """
    signed = SignOff.objects.filter(
        project_id=project.pk,
        plan_version=project.plan_version,
        kind__in=[SignOff.Kind.PLAN, SignOff.Kind.DECISION],
    ).exists()
    if not signed:
        return
    Project.objects.filter(pk=project.pk).update(plan_version=project.plan_version + 1)
    project.plan_version += 1
    _log(
        project,
        actor,
        "projects.plan.version",
        _("Version %(version)d: %(what)s") % {"version": project.plan_version, "what": what},
    )


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


def close_refusals(stage: Stage) -> list[str]:
    """Every reason why the stage cannot be closed now (empty if it can)."""
    project = stage.project
    if not project.is_open:
        return [_("The project is closed.")]
    if stage.is_closed:
        return [_("The stage is already closed.")]
    reasons = []
    previous = (
        project.stages.filter(position__lt=stage.position, closed_at__isnull=True)
        .order_by("position")
        .first()
    )
    if previous is not None:
        reasons.append(
            _("Stage %(position)d “%(stage)s” must be closed first.")
            % {"position": previous.position, "stage": previous.title}
        )
    open_criteria = [c.text for c in stage.criteria.all() if not c.is_met]
    if open_criteria:
        reasons.append(
            _("Gate criteria still open: %(list)s.") % {"list": "; ".join(open_criteria)}
        )
    for criterion in stage.criteria.exclude(rule=""):
        refusal = _rule_refusal(criterion, project)
        if refusal:
            reasons.append(refusal)
    if stage.kind == StageKind.DECISION:
        latest = project.decisions.order_by("-recorded_at", "-pk").first()
        if latest is None or latest.outcome != Decision.Outcome.GO:
            reasons.append(_("Record a “go” decision before closing this stage."))
        else:
            reasons.extend(unsigned(project, SignOff.Kind.DECISION, decision=latest))
    if stage.kind == StageKind.GO_LIVE and timezone.localdate() < project.go_live_on:
        reasons.append(
            _("The go-live stage cannot close before the go-live date, %(date)s.")
            % {"date": project.go_live_on.isoformat()}
        )
    return reasons


def close_refusal(stage: Stage) -> str | None:
    """Why the stage cannot be closed now (every reason, in one text), or ``None``."""
    reasons = close_refusals(stage)
    return " ".join(reasons) if reasons else None


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
    before = (stage.vendor_owner_id, stage.customer_owner_id, stage.due_on)
    stage.vendor_owner, stage.customer_owner, stage.due_on = vendor_owner, customer_owner, due_on
    stage.save(update_fields=["vendor_owner", "customer_owner", "due_on"])
    _log(project, actor, "projects.stage.updated", str(stage))
    if before != (stage.vendor_owner_id, stage.customer_owner_id, stage.due_on):
        _plan_changed(project, actor, str(stage))
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
    if done and field == "login_tested_at" and participant.credentials_at is None:
        raise PlanError(
            _("%(name)s's login cannot be tested before their credentials are marked received.")
            % {"name": participant.name}
        )
    if not done and field == "credentials_at":
        reasons = []
        if participant.login_tested_at is not None:
            reasons.append(
                _("%(name)s's login is marked tested; clear the login test first.")
                % {"name": participant.name}
            )
        met = Criterion.objects.filter(
            stage__project=project,
            rule=CriterionRule.CREDENTIALS_DISTRIBUTED,
            met_at__isnull=False,
            stage__closed_at__isnull=True,
        ).exists()
        if met and participant.is_target_user:
            reasons.append(
                _("Open the criterion “credentials distributed” before clearing credentials.")
            )
        if reasons:
            raise PlanError(" ".join(reasons))
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
    """Record when the end users were told; a date in the future is not a record."""
    _require(actor, MANAGE, project.organisation_id)
    project = _open_project(project)
    if on > timezone.localdate():
        raise PlanError(
            _("The users cannot have been informed on %(date)s: that date is in the future.")
            % {"date": on.isoformat()}
        )
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

    "Go" needs every stage before the decision stage closed and the current version of
    the plan signed by both sides. "Postpone" needs a new date after the current one and
    moves the project's go-live date (and the open stages' due dates with it), which
    makes a new plan version if the old one was signed.
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
        refusals = []
        if still_open:
            refusals.append(
                _("“Go” needs every stage before the decision closed; still open: %(list)s.")
                % {"list": ", ".join(str(s.position) for s in still_open)}
            )
        refusals.extend(unsigned(project, SignOff.Kind.PLAN))
        if refusals:
            raise PlanError(" ".join(refusals))
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
        _plan_changed(project, actor, _("go-live postponed"))
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
    if status == Snag.Status.DONE and old != status:
        snag.done_at = timezone.now()  # a customer's confirmation counts from here
    elif status != Snag.Status.DONE:
        snag.done_at = None
    snag.save(update_fields=["status", "drop_reason", "done_at"])
    _log(project, actor, "projects.snag.status", f"{snag.text}: {old} → {status}")
    return snag


@transaction.atomic
def snag_to_ticket(
    *, snag: Snag, actor: User, reporter: User | None = None, category: str | None = None
):
    """Turn an action point into a desk request (once) and link it.

    The category is the person's choice (a snag may be an incident as much as a change);
    without one it is a change request.
    """
    from aftercare.desk import services as desk
    from aftercare.desk.models import Category, Channel

    _require(actor, MANAGE, snag.organisation_id)
    category = category or Category.CHANGE
    if category not in Category.values:
        raise PlanError(_("Choose the request's category."))
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
        category=category,
        channel=Channel.CONSOLE,
        system=project.system,
    )
    snag.ticket = ticket
    snag.save(update_fields=["ticket"])
    _log(project, actor, "projects.snag.ticket", ticket.number)
    return ticket


def close_project_refusals(project: Project) -> list[str]:
    """Every reason why the project cannot be closed now (empty if it can)."""
    reasons = []
    open_snags = list(
        project.snags.filter(status__in=[Snag.Status.OPEN, Snag.Status.IN_PROGRESS]).order_by("pk")
    )
    if open_snags:
        reasons.append(
            _("%(count)d action point(s) of the snag list are still open: %(list)s.")
            % {"count": len(open_snags), "list": "; ".join(s.text for s in open_snags[:10])}
        )
    unconfirmed = [s for s in project.snags.filter(status=Snag.Status.DONE) if not is_confirmed(s)]
    if unconfirmed:
        reasons.append(
            _("The customer has not confirmed %(count)d fixed action point(s) yet: %(list)s.")
            % {"count": len(unconfirmed), "list": "; ".join(s.text for s in unconfirmed[:10])}
        )
    incidents = list(open_incidents(project))
    if incidents:
        reasons.append(
            _("%(count)d incident(s) of the test session are still open: %(list)s.")
            % {
                "count": len(incidents),
                "list": ", ".join(i.ticket.number for i in incidents[:10]),
            }
        )
    return reasons


def open_incidents(project: Project):
    """The project's linked requests not yet released, archived or rejected."""
    return (
        project.incidents.exclude(ticket__status__in=SETTLED_TICKET_STATUSES)
        .select_related("ticket")
        .order_by("ticket__number")
    )


@transaction.atomic
def close_project(*, project: Project, actor: User) -> Project:
    """Close the project; refused while any action point of its snag list is open, a fixed
    one is not confirmed by the customer, or an incident of the test session is open."""
    _require(actor, MANAGE, project.organisation_id)
    project = _open_project(project)
    reasons = close_project_refusals(project)
    if reasons:
        raise PlanError(" ".join(reasons))
    project.status, project.closed_at = Project.Status.CLOSED, timezone.now()
    project.save(update_fields=["status", "closed_at"])
    _log(project, actor, "projects.project.closed")
    return project


# -- sign-offs ---------------------------------------------------------------------------


def signing_side(actor: User, project: Project) -> str | None:
    """The side ``actor`` may sign for on this project, or ``None``.

    The customer's side: a coordinator of the project's organisation. The vendor's: staff
    who manage plans and hold the managers' permission, within their organisation scope.
    """
    permset = PermSet(actor)
    if not permset.is_authenticated:
        return None
    if permset.is_agent:
        if not (permset.has(MANAGE) and permset.has(SIGN_VENDOR)):
            return None
        scope = permset.organisation_scope
        if scope is not None and project.organisation_id not in scope:
            return None
        return Side.VENDOR
    if project.organisation_id in permset.coordinator_of:
        return Side.CUSTOMER
    return None


def _side_label(side: str) -> str:
    return str(Side(side).label)


def unsigned(project: Project, kind: str, *, decision: Decision | None = None) -> list[str]:
    """Why the plan (or a decision) is not signed by both sides on the current version.

    One reason per missing side; a signature of an older plan version does not count.
    """
    rows = SignOff.objects.filter(project_id=project.pk, kind=kind)
    if decision is not None:
        rows = rows.filter(decision=decision)
    current = set(rows.filter(plan_version=project.plan_version).values_list("side", flat=True))
    older = set(rows.values_list("side", flat=True)) - current
    reasons = []
    for side in (Side.CUSTOMER, Side.VENDOR):
        if side in current:
            continue
        values = {"side": _side_label(side), "version": project.plan_version}
        if kind == SignOff.Kind.PLAN:
            if side in older:
                text = _(
                    "The %(side)s side's signature of the plan is outdated: version %(version)d "
                    "must be signed again."
                )
            else:
                text = _("The %(side)s side has not signed version %(version)d of the plan.")
        elif side in older:
            text = _(
                "The %(side)s side signed the decision on an older plan version; sign it "
                "again on version %(version)d."
            )
        else:
            text = _("The %(side)s side has not co-signed the go/no-go decision.")
        reasons.append(text % values)
    return reasons


def is_confirmed(snag: Snag) -> bool:
    """Whether the customer confirmed the fix since it was last marked done."""
    if snag.status != Snag.Status.DONE or snag.done_at is None:
        return False
    return SignOff.objects.filter(
        snag_id=snag.pk, kind=SignOff.Kind.SNAG, signed_at__gte=snag.done_at
    ).exists()


@transaction.atomic
def sign_off(
    *,
    project: Project,
    actor: User,
    kind: str,
    note: str = "",
    snag: Snag | None = None,
) -> SignOff:
    """Sign the plan, the latest go/no-go decision or a fixed snag for one's own side.

    The side follows from who signs (``signing_side``); a customer user who is not a
    coordinator, a customer of another organisation and staff without the managers'
    permission are refused. A snag's fix is confirmed by the customer only.
    """
    check_writable()
    side = signing_side(actor, project)
    if side is None:
        raise PermissionDenied(_("You may not sign for this project."))
    project = _open_project(project)
    if kind not in SignOff.Kind.values:
        raise PlanError(_("Unknown kind of sign-off."))
    decision = None
    signed = SignOff.objects.filter(project_id=project.pk, kind=kind, side=side)
    if kind == SignOff.Kind.PLAN:
        if signed.filter(plan_version=project.plan_version).exists():
            raise PlanError(
                _("Version %(version)d of the plan is already signed for your side.")
                % {"version": project.plan_version}
            )
        action = "projects.plan.signed"
        text = _("Plan version %(version)d, %(side)s side")
    elif kind == SignOff.Kind.DECISION:
        decision = project.decisions.order_by("-recorded_at", "-pk").first()
        if decision is None:
            raise PlanError(_("No go/no-go decision has been recorded yet."))
        stage = project.stages.filter(kind=StageKind.DECISION).order_by("position").first()
        if stage is not None and stage.is_closed:
            raise PlanError(_("The decision stage is already closed."))
        if signed.filter(decision=decision, plan_version=project.plan_version).exists():
            raise PlanError(_("Your side has already co-signed this decision."))
        action = "projects.decision.signed"
        text = _("Decision on plan version %(version)d, %(side)s side")
    else:
        if side != Side.CUSTOMER:
            raise PermissionDenied(_("Only the customer confirms a fixed action point."))
        if snag is None or snag.project_id != project.pk:
            raise PlanError(_("Unknown action point."))
        snag = Snag.objects.select_for_update().get(pk=snag.pk)
        if snag.status != Snag.Status.DONE:
            raise PlanError(_("Only an action point marked done can be confirmed."))
        if is_confirmed(snag):
            raise PlanError(_("This fix is already confirmed."))
        action = "projects.snag.confirmed"
        text = _("Fix confirmed: %(snag)s")
    signoff = SignOff.objects.create(
        organisation_id=project.organisation_id,
        project=project,
        kind=kind,
        side=side,
        user=actor,
        plan_version=project.plan_version,
        note=note.strip()[:2000],
        decision=decision,
        snag=snag if kind == SignOff.Kind.SNAG else None,
    )
    values = {
        "version": project.plan_version,
        "side": _side_label(side),
        "snag": snag.text if snag else "",
    }
    _log(project, actor, action, text % values)
    return signoff


class SignatureRow:
    """One side's latest signature of something, for the pages."""

    def __init__(self, side: str, signoff: SignOff | None, version: int) -> None:
        self.side = side
        self.label = _side_label(side)
        self.signoff = signoff
        self.is_current = signoff is not None and signoff.plan_version == version
        self.is_outdated = signoff is not None and not self.is_current


def signatures(project: Project) -> dict:
    """The plan's and the latest decision's signatures per side (current or outdated)."""
    rows = list(
        SignOff.objects.filter(
            project_id=project.pk, kind__in=[SignOff.Kind.PLAN, SignOff.Kind.DECISION]
        )
        .select_related("user")
        .order_by("-signed_at", "-pk")
    )
    decision = project.decisions.order_by("-recorded_at", "-pk").first()

    def latest(kind: str, side: str):
        return next(
            (
                r
                for r in rows
                if r.kind == kind
                and r.side == side
                and (kind == SignOff.Kind.PLAN or r.decision_id == getattr(decision, "pk", None))
            ),
            None,
        )

    sides = (Side.CUSTOMER, Side.VENDOR)
    plan = [SignatureRow(s, latest(SignOff.Kind.PLAN, s), project.plan_version) for s in sides]
    decided = []
    if decision is not None:
        decided = [
            SignatureRow(s, latest(SignOff.Kind.DECISION, s), project.plan_version) for s in sides
        ]
    return {
        "version": project.plan_version,
        "plan": plan,
        "plan_current_sides": [r.side for r in plan if r.is_current],
        "decision": decision,
        "decision_rows": decided,
        "decision_current_sides": [r.side for r in decided if r.is_current],
        "history": rows,
    }


# -- the people named on the plan ----------------------------------------------------------


@transaction.atomic
def set_project_people(
    *,
    project: Project,
    actor: User,
    technical_coordinator: User | None,
    customer_responsible: User | None,
) -> Project:
    """The vendor's technical coordinator (staff) and the customer's responsible person (a
    user of the project's organisation); every mismatch is reported at once."""
    _require(actor, MANAGE, project.organisation_id)
    project = _open_project(project)
    reasons = []
    if technical_coordinator is not None and not PermSet(technical_coordinator).is_agent:
        reasons.append(_("The vendor's technical coordinator must be a member of staff."))
    if customer_responsible is not None and (
        PermSet(customer_responsible).is_agent
        or not _is_member(customer_responsible, project.organisation_id)
    ):
        reasons.append(
            _("The customer's responsible person must be a user of %(org)s.")
            % {"org": project.organisation.name}
        )
    if reasons:
        raise PlanError(" ".join(reasons))
    project.technical_coordinator = technical_coordinator
    project.customer_responsible = customer_responsible
    project.save(update_fields=["technical_coordinator", "customer_responsible"])
    _log(
        project,
        actor,
        "projects.people.updated",
        " / ".join(
            u.display_name if u else "—" for u in (technical_coordinator, customer_responsible)
        ),
    )
    return project


# -- test sessions -------------------------------------------------------------------------


def _local(on: date, at: time, zone) -> datetime | None:
    """``on`` at ``at`` in ``zone``; ``None`` when that wall-clock time does not exist
    there (the hour skipped when clocks go forward)."""
    moment = datetime.combine(on, at, tzinfo=zone)
    back = moment.astimezone(UTC).astimezone(zone)
    if (back.date(), back.time().replace(tzinfo=None)) != (on, at.replace(tzinfo=None)):
        return None
    return moment


@transaction.atomic
def schedule_test_session(
    *,
    project: Project,
    actor: User,
    title: str,
    on: date,
    starts: time,
    ends: time,
    staff_attendees: Iterable[User] = (),
    contact_attendees: Iterable[ContactPerson] = (),
    note: str = "",
) -> TestSession:
    """Schedule a test session: date and times in the organisation's time zone (stored in
    UTC), attendees from both sides. Every problem is reported at once."""
    _require(actor, MANAGE, project.organisation_id)
    project = _open_project(project)
    staff_attendees, contact_attendees = list(staff_attendees), list(contact_attendees)
    zone = project.organisation.zone
    reasons = []
    if not title.strip():
        reasons.append(_("Give the session a title."))
    starts_at, ends_at = _local(on, starts, zone), _local(on, ends, zone)
    for moment, value in ((starts_at, starts), (ends_at, ends)):
        if moment is None:
            reasons.append(
                _("%(time)s does not exist on %(date)s in %(zone)s (the clocks go forward).")
                % {"time": value.strftime("%H:%M"), "date": on.isoformat(), "zone": str(zone)}
            )
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        reasons.append(_("The session must end after it starts."))
    if not staff_attendees:
        reasons.append(_("Name at least one attendee from the vendor's staff."))
    not_staff = [u.display_name for u in staff_attendees if not PermSet(u).is_agent]
    if not_staff:
        reasons.append(_("Not members of staff: %(names)s.") % {"names": ", ".join(not_staff)})
    if not contact_attendees:
        reasons.append(_("Name at least one attendee from the customer's contacts."))
    foreign = [c.name for c in contact_attendees if c.organisation_id != project.organisation_id]
    if foreign:
        reasons.append(
            _("Not contacts of %(org)s: %(names)s.")
            % {"org": project.organisation.name, "names": ", ".join(foreign)}
        )
    if reasons:
        raise PlanError(" ".join(reasons))
    session = TestSession.objects.create(
        organisation_id=project.organisation_id,
        project=project,
        title=title.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        note=note.strip(),
        created_by=actor,
    )
    session.staff_attendees.set(staff_attendees)
    session.contact_attendees.set(contact_attendees)
    _log(
        project,
        actor,
        "projects.session.scheduled",
        f"{session.title}: {starts_at.isoformat()}–{ends.strftime('%H:%M')}",
    )
    return session


@transaction.atomic
def cancel_test_session(*, session: TestSession, actor: User) -> None:
    _require(actor, MANAGE, session.organisation_id)
    project = _open_project(session.project)
    title = session.title
    session.delete()
    _log(project, actor, "projects.session.cancelled", title)


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
