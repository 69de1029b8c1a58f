"""Requests (tickets), their conversation, attachments and audit trail."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from aftercare.tenancy.models import Contract, Organisation, System


class Status(models.TextChoices):
    BACKLOG = "backlog", _("Backlog")
    SPRINT = "sprint", _("Sprint")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING = "waiting", _("Waiting for customer")
    DONE = "done", _("Done")
    RELEASED = "released", _("Released")
    ARCHIVED = "archived", _("Archived")
    REJECTED = "rejected", _("Rejected")


OPEN_STATUSES = (Status.BACKLOG, Status.SPRINT, Status.IN_PROGRESS, Status.WAITING, Status.DONE)
CLOSED_STATUSES = (Status.ARCHIVED, Status.REJECTED)


class Category(models.TextChoices):
    INCIDENT = "incident", _("Incident")
    PROBLEM = "problem", _("Problem")
    CONSULTATION = "consultation", _("Consultation")
    CHANGE = "change", _("Change / development request")
    DOCUMENTATION = "documentation", _("Documentation request")
    IMPROVEMENT = "improvement", _("Improvement suggestion")


class Priority(models.IntegerChoices):
    """Lower number = more urgent, so ascending order sorts the urgent first."""

    CRITICAL = 1, _("Critical")
    HIGH = 2, _("High")
    NORMAL = 3, _("Normal")
    LOW = 4, _("Low")


class Channel(models.TextChoices):
    PORTAL = "portal", _("Portal")
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    MESSENGER = "messenger", _("Messenger")
    API = "api", _("API")
    CONSOLE = "console", _("Service desk console")


class Level(models.IntegerChoices):
    L1 = 1, _("L1 (operator)")
    L2 = 2, _("L2 (consultant)")


class TicketSequence(models.Model):
    """The last number handed out per prefix and year (see ``numbering``)."""

    prefix = models.CharField(max_length=16)
    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prefix", "year"], name="unique_sequence")]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.year}: {self.last}"


class Tag(models.Model):
    """A free label staff put on requests ("month-end", "invoice-print"); shared by all."""

    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TicketQuerySet(models.QuerySet):
    def open(self) -> TicketQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def closed(self) -> TicketQuerySet:
        return self.filter(status__in=CLOSED_STATUSES)


class Ticket(models.Model):
    number = models.CharField(_("number"), max_length=32, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="tickets",
        verbose_name=_("organisation"),
    )
    contract = models.ForeignKey(
        Contract,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        verbose_name=_("contract"),
    )
    system = models.ForeignKey(
        System,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        verbose_name=_("system"),
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="reported_tickets",
        verbose_name=_("reporter"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("registered by"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        verbose_name=_("assignee"),
    )
    level = models.PositiveSmallIntegerField(
        _("support level"), choices=Level.choices, default=Level.L1
    )
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    customer_priority = models.PositiveSmallIntegerField(
        _("priority requested"), choices=Priority.choices, default=Priority.NORMAL
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    priority_reason = models.TextField(_("reason for priority change"), blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.BACKLOG
    )
    status_before_waiting = models.CharField(max_length=16, blank=True, editable=False)
    subject = models.CharField(_("subject"), max_length=250)
    description = models.TextField(_("description"))
    conditions = models.TextField(
        _("conditions"),
        blank=True,
        help_text=_("In which conditions the problem appears: steps, data, environment."),
    )
    rejection_reason = models.TextField(_("rejection reason"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    status_changed_at = models.DateTimeField(_("status changed"), default=timezone.now)
    released_at = models.DateTimeField(_("released"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # When the work on it ended (Done or Rejected); cleared when it is reopened. The
    # dashboard's "solved per week" counts this.
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    # A duplicate merged into another request points to the survivor.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
        verbose_name=_("merged into"),
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    # Kept by the SLA engine: the nearest deadline and warning instant of running clocks,
    # and a summary state, so queues can filter and sort on them through an index.
    sla_due_at = models.DateTimeField(_("SLA due"), null=True, blank=True)
    sla_warn_at = models.DateTimeField(null=True, blank=True, editable=False)
    sla_state = models.CharField(_("SLA state"), max_length=10, blank=True, editable=False)
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets", verbose_name=_("tags"))

    objects = ScopedManager(
        organisation="organisation", _manager_class=models.Manager.from_queryset(TicketQuerySet)
    )

    class Meta:
        verbose_name = _("request")
        verbose_name_plural = _("requests")
        permissions = [
            ("view_all_tickets", "Can see every ticket of the organisations in reach"),
            ("view_internal_note", "Can read internal notes"),
            ("add_internal_note", "Can write internal notes"),
            ("open_ticket_on_behalf", "Can register a request on behalf of a caller"),
            ("triage_ticket", "Can classify requests"),
            ("reprioritise_ticket", "Can change the priority of requests"),
            ("assign_ticket", "Can assign requests"),
            ("escalate_ticket", "Can escalate requests from L1 to L2"),
            ("view_reports", "Can see reports"),
            ("request_approval", "Can ask a customer to approve an action"),
        ]
        indexes = [
            # The queue's common filters, each followed by the default sort key.
            models.Index(fields=["status", "-updated_at", "-id"], name="ticket_status_upd"),
            models.Index(
                fields=["organisation", "status", "-updated_at"], name="ticket_org_status"
            ),
            models.Index(fields=["assignee", "status", "-updated_at"], name="ticket_assignee"),
            models.Index(fields=["reporter", "-updated_at"], name="ticket_reporter"),
            models.Index(fields=["-updated_at", "-id"], name="ticket_updated"),
            models.Index(fields=["-created_at", "-id"], name="ticket_created"),
            models.Index(fields=["priority", "id"], name="ticket_priority"),
            # The board: each status column sorted by urgency, then recency.
            models.Index(fields=["status", "priority", "-updated_at", "-id"], name="ticket_board"),
            models.Index(fields=["status", "released_at"], name="ticket_released"),
            models.Index(fields=["sla_due_at", "id"], name="ticket_sla_due"),
            # The dashboard: solved per week, oldest open requests.
            models.Index(fields=["resolved_at"], name="ticket_resolved"),
            models.Index(fields=["status", "created_at"], name="ticket_status_created"),
            # The dashboard filtered to customers (a restricted manager, the customer filter).
            models.Index(fields=["organisation", "created_at"], name="ticket_org_created"),
            models.Index(fields=["organisation", "resolved_at"], name="ticket_org_resolved"),
            # The open queue at a million requests (issue 17): only the open set, whatever
            # the history. Its two orders walk an index (LIMIT stops after a page), and
            # the sidebar's and the list's counts read the covering one alone.
            models.Index(
                fields=["priority", "created_at", "id"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="ticket_open_arrival",
            ),
            models.Index(
                fields=["-updated_at", "-id"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="ticket_open_updated",
            ),
            models.Index(
                fields=["status"],
                include=[
                    "id",
                    "assignee",
                    "level",
                    "priority",
                    "organisation",
                    "category",
                    "sla_due_at",
                    "sla_warn_at",
                    "sla_state",
                ],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="ticket_open_cover",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def priority_changed(self) -> bool:
        return self.priority != self.customer_priority


class Message(models.Model):
    class Kind(models.TextChoices):
        PUBLIC = "public", _("Public reply")
        INTERNAL = "internal", _("Internal note")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PUBLIC)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.PORTAL)
    body = models.TextField(_("message"))
    # From e-mail: the quoted history folded out of ``body``, and the sanitised HTML.
    quoted = models.TextField(blank=True)
    html = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [models.Index(fields=["ticket", "created_at"], name="message_ticket")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_internal(self) -> bool:
        return self.kind == self.Kind.INTERNAL


def attachment_path(instance: Attachment, filename: str) -> str:
    # Never the uploaded name on disk: it is user input. The name is kept in the row.
    suffix = PurePath(filename).suffix.lower()[:16]
    today = timezone.now()
    return f"attachments/{today:%Y/%m}/{uuid.uuid4().hex}{suffix}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    file = models.FileField(upload_to=attachment_path, max_length=255)
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    is_internal = models.BooleanField(default=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    """The audit trail: one row per change, written by the service that made it."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(max_length=64)
    field = models.CharField(max_length=64, blank=True)
    old = models.TextField(blank=True)
    new = models.TextField(blank=True)
    note = models.TextField(blank=True)
    # A system note as message id and parameters (``desk.notes``): rendered again in the
    # reader's language; ``note`` keeps the text in the language it was written in.
    note_id = models.CharField(max_length=255, blank=True)
    note_params = models.JSONField(default=dict, blank=True)
    is_internal = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="event_ticket"),
            models.Index(fields=["action", "created_at"], name="event_action"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.field}".strip()

    @property
    def display_note(self) -> str:
        """The note in the active (the reader's) language when it is a system note."""
        if not self.note_id:
            return self.note
        from aftercare.desk.notes import render

        return render(self.note_id, self.note_params, self.note)


class Followup(models.Model):
    """What a committed change still owes others: its outbox row (``desk.followups``).

    Written in the change's transaction beside its ``Event``; expanded after the commit
    (mails, in-app notices, webhook rows, chat replies, the search document) in one
    transaction that also deletes the row, so a crash between the two loses nothing and
    a repeated expansion is refused by the rows' keys.
    """

    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="+")
    # Model instances the receivers get besides the event (e.g. the reply's message),
    # stored as {"name": ["app_label.model", pk]}.
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    not_before = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("pending follow-up")
        verbose_name_plural = _("pending follow-ups")

    def __str__(self) -> str:
        return f"follow-up of event {self.event_id}"


class Approval(models.Model):
    """A customer's written consent to an action on a request, asked for by an agent.

    While an approval for a target status has not been granted, the transition to that
    status is refused (``desk.approvals.blocking``). Each approver gets a signed one-time
    link; the decision (who, when, how) is kept here and on the timeline.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        DECLINED = "declined", _("Declined")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Via(models.TextChoices):
        LINK = "link", _("link in the e-mail")
        PORTAL = "portal", _("portal")
        EMAIL = "email", _("e-mail reply")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="approvals")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    action = models.TextField(_("action to approve"))
    target_status = models.CharField(
        _("blocks the move to"), max_length=16, choices=Status.choices, blank=True
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_via = models.CharField(max_length=10, choices=Via.choices, blank=True)
    decision_note = models.TextField(_("comment"), blank=True)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("approval")
        verbose_name_plural = _("approvals")
        indexes = [models.Index(fields=["ticket", "state"], name="approval_ticket")]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.action[:60]}"

    @property
    def is_expired(self) -> bool:
        return self.state == self.State.PENDING and self.expires_at <= timezone.now()


class ApprovalLink(models.Model):
    """One approver's one-time link; only a hash of its nonce is stored."""

    approval = models.ForeignKey(Approval, on_delete=models.CASCADE, related_name="links")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    nonce_hash = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["approval", "user"], name="unique_approval_link")
        ]

    def __str__(self) -> str:
        return f"{self.approval_id} → {self.user_id}"


class CannedAnswer(models.Model):
    """A prepared reply an agent inserts into the composer, with placeholders filled.

    The body is agent-written text with ``{{ customer.name }}``-style placeholders; it is
    filled by ``desk.canned.fill`` (a fixed list of names, plain substitution), never by the
    template engine, so an answer cannot reach anything but the values offered.
    """

    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(
        _("text"),
        help_text=_(
            "Placeholders: {{customer.name}}, {{reporter.name}}, {{reporter.first_name}}, "
            "{{ticket.number}}, {{ticket.subject}}, {{agent.name}}, {{agent.first_name}}."
        ),
    )
    language = models.CharField(
        _("language"), max_length=10, blank=True, choices=settings.LANGUAGES
    )
    set_status = models.CharField(
        _("then set the status"),
        max_length=16,
        blank=True,
        choices=Status.choices,
        help_text=_("Offered as the move to make when the answer is sent (optional)."),
    )
    set_priority = models.PositiveSmallIntegerField(
        _("then set the priority"),
        null=True,
        blank=True,
        choices=Priority.choices,
        help_text=_("Changes the priority when the answer is sent (optional)."),
    )
    shared = models.BooleanField(_("shared with all staff"), default=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_answers",
        verbose_name=_("owner"),
        help_text=_("For a personal answer: the only agent who is offered it."),
    )

    class Meta:
        verbose_name = _("canned answer")
        verbose_name_plural = _("canned answers")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class TicketLink(models.Model):
    """Two requests of one organisation that belong together ("related"). Stored once per
    pair, lower id first; either side shows the other."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_in")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organisation="organisation")

    class Meta:
        verbose_name = _("related request")
        verbose_name_plural = _("related requests")
        constraints = [
            models.UniqueConstraint(fields=["source", "target"], name="unique_ticket_link"),
            models.CheckConstraint(
                condition=models.Q(source__lt=models.F("target")), name="ticket_link_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} ↔ {self.target_id}"
