"""Go-live plans and snag lists.

A ``PlanTemplate`` (vendor-wide, not tenant data) holds stages with tasks and gate
criteria; ``instantiate_plan`` copies it into a customer ``Project``. Everything under a
project is tenant data with a django-scopes manager on ``organisation``. The rules that
change these rows live in ``services.py``; the models only hold state.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from aftercare.tenancy.models import Organisation, System


class Side(models.TextChoices):
    VENDOR = "vendor", _("Vendor")
    CUSTOMER = "customer", _("Customer")


class StageKind(models.TextChoices):
    PLAIN = "plain", _("Ordinary stage")
    TEST_SESSION = "test_session", _("Go-live test session")
    DECISION = "decision", _("Go/no-go decision")
    GO_LIVE = "go_live", _("Go-live")


class CriterionRule(models.TextChoices):
    """A criterion whose truth is computed from other rows, not only ticked."""

    NONE = "", _("Ticked by hand")
    LOGINS_TESTED = "logins_tested", _("Every target user's login tested")
    CREDENTIALS_DISTRIBUTED = (
        "credentials_distributed",
        _("Every target user's credentials received"),
    )
    USERS_INFORMED = "users_informed", _("Users informed (a date not in the future)")


# -- templates (vendor-wide) ------------------------------------------------------------


class PlanTemplate(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("plan template")
        verbose_name_plural = _("plan templates")
        ordering = ["-is_default", "name"]

    def __str__(self) -> str:
        return self.name


class TemplateStage(models.Model):
    template = models.ForeignKey(
        PlanTemplate, on_delete=models.CASCADE, related_name="stages", verbose_name=_("template")
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=StageKind.choices, default=StageKind.PLAIN
    )
    due_offset_days = models.IntegerField(
        _("due, days before go-live"),
        null=True,
        blank=True,
        help_text=_("The stage's due date is the go-live date minus this many days."),
    )

    class Meta:
        verbose_name = _("template stage")
        verbose_name_plural = _("template stages")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.title


class TemplateTask(models.Model):
    stage = models.ForeignKey(
        TemplateStage, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("stage")
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    text = models.CharField(_("task"), max_length=500)

    class Meta:
        verbose_name = _("template task")
        verbose_name_plural = _("template tasks")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.text


class TemplateCriterion(models.Model):
    stage = models.ForeignKey(
        TemplateStage, on_delete=models.CASCADE, related_name="criteria", verbose_name=_("stage")
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    text = models.CharField(_("gate criterion"), max_length=500)
    must_be_first = models.BooleanField(
        _("must be met first"),
        default=False,
        help_text=_("No other criterion of the stage can be marked met before this one."),
    )
    rule = models.CharField(
        _("rule"), max_length=32, choices=CriterionRule.choices, default="", blank=True
    )

    class Meta:
        verbose_name = _("template gate criterion")
        verbose_name_plural = _("template gate criteria")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.text


# -- a customer's project (tenant data) -------------------------------------------------


class Project(models.Model):
    class Kind(models.TextChoices):
        GO_LIVE = "go_live", _("Go-live")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="projects",
        verbose_name=_("organisation"),
    )
    system = models.ForeignKey(
        System,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="projects",
        verbose_name=_("system"),
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.GO_LIVE)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    go_live_on = models.DateField(_("go-live date"))
    template = models.ForeignKey(
        PlanTemplate,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="projects",
        verbose_name=_("template"),
    )
    users_informed_on = models.DateField(
        _("users informed on"),
        null=True,
        blank=True,
        help_text=_("When the end users were told about the go-live."),
    )
    users_informed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    technical_coordinator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("vendor technical coordinator"),
    )
    customer_responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("responsible on the customer's side"),
    )
    plan_version = models.PositiveIntegerField(
        _("plan version"),
        default=1,
        help_text=_(
            "Goes up when the plan (stages, dates, owners) changes after a sign-off; "
            "older sign-offs are then outdated."
        ),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        ordering = ["status", "go_live_on", "pk"]
        indexes = [models.Index(fields=["organisation", "status", "go_live_on"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class Stage(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="stages", verbose_name=_("project")
    )
    position = models.PositiveIntegerField(_("position"))
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=StageKind.choices, default=StageKind.PLAIN
    )
    vendor_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("vendor owner"),
    )
    customer_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("customer owner"),
    )
    due_on = models.DateField(_("due"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("closed by"),
    )

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["project", "position"]
        constraints = [
            models.UniqueConstraint(fields=["project", "position"], name="unique_stage_position")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.title}"

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class Task(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    stage = models.ForeignKey(
        Stage, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("stage")
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    text = models.CharField(_("task"), max_length=500)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.text


class Criterion(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    stage = models.ForeignKey(
        Stage, on_delete=models.CASCADE, related_name="criteria", verbose_name=_("stage")
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    text = models.CharField(_("gate criterion"), max_length=500)
    must_be_first = models.BooleanField(_("must be met first"), default=False)
    rule = models.CharField(
        _("rule"), max_length=32, choices=CriterionRule.choices, default="", blank=True
    )
    met_at = models.DateTimeField(_("met"), null=True, blank=True)
    met_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("marked by"),
    )

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("gate criterion")
        verbose_name_plural = _("gate criteria")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.text

    @property
    def is_met(self) -> bool:
        return self.met_at is not None


class Participant(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="participants", verbose_name=_("project")
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"), blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("user account"),
    )
    side = models.CharField(_("side"), max_length=10, choices=Side.choices)
    role = models.CharField(_("role"), max_length=200, blank=True)
    is_target_user = models.BooleanField(
        _("target user"),
        default=True,
        help_text=_("Will work in the new system: their login must be tested before go-live."),
    )
    credentials_at = models.DateTimeField(_("credentials received"), null=True, blank=True)
    login_tested_at = models.DateTimeField(_("login tested"), null=True, blank=True)
    trained_at = models.DateTimeField(_("training attended"), null=True, blank=True)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        ordering = ["side", "name", "pk"]

    def __str__(self) -> str:
        return self.name


class Incident(models.Model):
    """A desk request raised during the project (typically in the test session)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="incidents", verbose_name=_("project")
    )
    ticket = models.ForeignKey(
        "desk.Ticket", on_delete=models.CASCADE, related_name="+", verbose_name=_("request")
    )
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    linked_at = models.DateTimeField(_("linked"), default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-linked_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["project", "ticket"], name="unique_project_incident")
        ]

    def __str__(self) -> str:
        return f"{self.project} → {self.ticket_id}"


class Decision(models.Model):
    class Outcome(models.TextChoices):
        GO = "go", _("Go live")
        POSTPONE = "postpone", _("Postpone")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="decisions", verbose_name=_("project")
    )
    decided_on = models.DateField(_("date"))
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    reasons = models.TextField(_("reasons"))
    new_go_live_on = models.DateField(_("new go-live date"), null=True, blank=True)
    previous_go_live_on = models.DateField(_("previous go-live date"), null=True, blank=True)
    participants = models.ManyToManyField(
        Participant, related_name="decisions", verbose_name=_("participants")
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("go/no-go decision")
        verbose_name_plural = _("go/no-go decisions")
        ordering = ["-recorded_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.project}: {self.outcome} ({self.decided_on})"


class Snag(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        DROPPED = "dropped", _("Dropped")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="snags", verbose_name=_("project")
    )
    text = models.CharField(_("action point"), max_length=500)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("owner"),
    )
    due_on = models.DateField(_("due"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.OPEN
    )
    drop_reason = models.TextField(_("reason for dropping"), blank=True)
    done_at = models.DateTimeField(
        _("done"),
        null=True,
        blank=True,
        help_text=_("When the fix was marked done; the customer confirms it after this."),
    )
    ticket = models.ForeignKey(
        "desk.Ticket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("request"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("snag")
        verbose_name_plural = _("snags")
        ordering = ["due_on", "pk"]

    def __str__(self) -> str:
        return self.text

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.IN_PROGRESS)


class SignOff(models.Model):
    """A party's signature: who, when, on which version of the plan.

    Rows are never changed or deleted: a later plan change makes a plan sign-off outdated
    (its ``plan_version`` is older than the project's) and the plan is signed again.
    """

    class Kind(models.TextChoices):
        PLAN = "plan", _("Go-live plan")
        DECISION = "decision", _("Go/no-go decision")
        SNAG = "snag", _("Snag fix confirmed")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="signoffs", verbose_name=_("project")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    side = models.CharField(_("side"), max_length=10, choices=Side.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("signed by"),
    )
    signed_at = models.DateTimeField(_("signed"), default=timezone.now)
    plan_version = models.PositiveIntegerField(_("plan version"))
    note = models.TextField(_("note"), blank=True)
    decision = models.ForeignKey(
        Decision,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="signoffs",
        verbose_name=_("decision"),
    )
    snag = models.ForeignKey(
        Snag,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="signoffs",
        verbose_name=_("snag"),
    )

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("sign-off")
        verbose_name_plural = _("sign-offs")
        ordering = ["-signed_at", "-pk"]
        indexes = [models.Index(fields=["project", "kind", "plan_version"])]

    def __str__(self) -> str:
        return f"{self.project}: {self.kind} ({self.side}, v{self.plan_version})"


class TestSession(models.Model):
    """A scheduled go-live test session: when (stored in UTC, entered and shown in the
    organisation's time zone) and who attends from both sides."""

    __test__ = False  # not a pytest class, whatever its name

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="test_sessions", verbose_name=_("project")
    )
    title = models.CharField(_("title"), max_length=200)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    staff_attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        verbose_name=_("vendor attendees"),
    )
    contact_attendees = models.ManyToManyField(
        "tenancy.ContactPerson",
        blank=True,
        related_name="+",
        verbose_name=_("customer attendees"),
    )
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("test session")
        verbose_name_plural = _("test sessions")
        ordering = ["starts_at", "pk"]

    def __str__(self) -> str:
        return self.title


class ProjectEvent(models.Model):
    """The project's audit trail: who changed what, when."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="events", verbose_name=_("project")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(_("action"), max_length=64)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("project event")
        verbose_name_plural = _("project events")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.action
