"""The request page's two forms: the composer and the properties sidebar.

Each form knows which of its parts the signed-in agent may use (``editable``) so the
template shows the others read-only and the view never applies them, whatever is posted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.utils.translation import gettext_lazy as _

from aftercare.accounts.querysets import agents_seeing
from aftercare.desk import workflow
from aftercare.desk.forms import MultipleFileField
from aftercare.desk.models import Category, Level, Priority, Status, Tag
from aftercare.tenancy.models import System

if TYPE_CHECKING:
    from aftercare.accounts.roles import PermSet
    from aftercare.desk.models import Ticket


def then_label(rule: workflow.Rule) -> str:
    """The split button's text for "send, then move the request"."""
    if rule.target == Status.WAITING:
        return str(_("Send and wait for the customer"))
    return str(_("Send and mark “%(status)s”") % {"status": Status(rule.target).label})


class ComposerForm(forms.Form):
    """A public reply or an internal note, and optionally the move that follows it."""

    MODES = (("reply", _("Reply to customer")), ("note", _("Internal note")))

    mode = forms.ChoiceField(label=_("Kind"), choices=MODES, initial="reply")
    body = forms.CharField(
        label=_("Message"),
        widget=forms.Textarea(attrs={"rows": 6, "data-composer-body": ""}),
    )
    files = MultipleFileField(label=_("Attachments"))
    then = forms.ChoiceField(label=_("Then"), required=False)
    reason = forms.CharField(
        label=_("Reason for the status change"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The customer sees this reason; it is not the message above."),
    )
    time_spent = forms.CharField(
        label=_("Time spent"),
        required=False,
        max_length=20,
        widget=forms.TextInput(
            attrs={
                "placeholder": _("e.g. 30m, 1h 15m"),
                "autocomplete": "off",
                "inputmode": "text",
                "size": 12,
            }
        ),
        help_text=_("Optional; recorded with this message for billing."),
    )
    # The canned answer inserted last, when it also sets the priority (the page shows
    # "Will also set priority to …"; the priority itself is read from the answer).
    canned_answer = forms.IntegerField(widget=forms.HiddenInput, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, rules=(), may_note: bool = True, canned_answers=None, **kwargs):
        kwargs.setdefault("auto_id", "composer_%s")
        super().__init__(*args, **kwargs)
        self.rules = list(rules)
        self.may_note = may_note
        self.canned_answers = canned_answers
        self.fields["then"].choices = [("", ""), *((r.target, r.label) for r in self.rules)]
        if not may_note:
            self.fields["mode"].choices = self.MODES[:1]

    def clean_time_spent(self) -> int | None:
        from aftercare.timetracking.services import check_minutes, parse_duration

        text = (self.cleaned_data.get("time_spent") or "").strip()
        if not text:
            return None
        minutes = parse_duration(text)
        try:
            return check_minutes(minutes)
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None

    def clean_canned_answer(self):
        pk = self.cleaned_data.get("canned_answer")
        if not pk or self.canned_answers is None:
            return None
        answer = self.canned_answers.filter(pk=pk).first()
        if answer is None:
            raise forms.ValidationError(_("That canned answer is no longer offered to you."))
        return answer if answer.set_priority else None

    @property
    def canned_priority(self) -> dict | None:
        """The pending "also set the priority" of a re-shown form, for the template."""
        answer = (getattr(self, "cleaned_data", None) or {}).get("canned_answer")
        if answer is None or not answer.set_priority:
            return None
        return {
            "id": answer.pk,
            "label": Priority(answer.set_priority).label,
            "status": answer.set_status,
        }

    @property
    def then_buttons(self) -> list[dict]:
        return [
            {"target": r.target, "label": then_label(r), "reason": r.reason_required}
            for r in self.rules
        ]

    def clean(self):
        data = super().clean()
        target = data.get("then")
        if target:
            rule = next(r for r in self.rules if r.target == target)
            if rule.reason_required and not (data.get("reason") or "").strip():
                self.add_error("reason", _("Please give a reason for this change."))
        return data


class PropertiesForm(forms.Form):
    """Status, priority, category, system, assignee, level and tags: one Save."""

    status = forms.ChoiceField(label=_("Status"))
    status_reason = forms.CharField(
        label=_("Reason for the status change"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The customer sees this reason and receives it by e-mail."),
    )
    priority = forms.TypedChoiceField(label=_("Priority"), choices=Priority.choices, coerce=int)
    priority_reason = forms.CharField(
        label=_("Reason for the priority"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Needed when the priority changes; the customer sees it."),
    )
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
    system = forms.TypedChoiceField(label=_("System"), coerce=int, required=False, empty_value=None)
    assignee = forms.TypedChoiceField(
        label=_("Assignee"), coerce=int, required=False, empty_value=None
    )
    level = forms.TypedChoiceField(label=_("Support level"), choices=Level.choices, coerce=int)
    level_note = forms.CharField(
        label=_("Why it goes to L2"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=1200,
        widget=forms.TextInput(attrs={"list": "tag-suggestions", "autocomplete": "off"}),
        help_text=_("Separate tags with commas."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, ticket: Ticket, permset: PermSet, **kwargs):
        self.ticket = ticket
        roles = permset.ticket_roles(ticket)
        self.rules = workflow.allowed_transitions(ticket.status, roles)
        kwargs.setdefault("auto_id", "prop_%s")
        kwargs.setdefault(
            "initial",
            {
                "status": ticket.status,
                "priority": ticket.priority,
                "category": ticket.category,
                "system": ticket.system_id,
                "assignee": ticket.assignee_id,
                "level": ticket.level,
                "tags": ", ".join(t.name for t in ticket.tags.all()),
                "version": ticket.version,
            },
        )
        super().__init__(*args, **kwargs)
        triage = permset.has("desk.triage_ticket")
        self.editable = {
            "status": bool(self.rules),
            "priority": permset.has("desk.reprioritise_ticket"),
            "category": triage,
            "system": triage,
            "tags": triage,
            "assignee": permset.has("desk.assign_ticket"),
            # Only L1 -> L2 exists as a service (escalate); L2 is shown read-only.
            "level": permset.has("desk.escalate_ticket")
            and ticket.level == Level.L1
            and ticket.is_open,
        }
        self.fields["status"].choices = [
            (ticket.status, ticket.get_status_display()),
            *((r.target, f"→ {Status(r.target).label}") for r in self.rules),
        ]
        self.reason_targets = [r.target for r in self.rules if r.reason_required]
        self.fields["system"].choices = [
            ("", "—"),
            *(
                (s.pk, str(s))
                for s in System.objects.filter(organisation_id=ticket.organisation_id)
            ),
        ]
        people = list(agents_seeing(ticket.organisation_id))
        if ticket.assignee_id and ticket.assignee_id not in {p.pk for p in people}:
            people.append(ticket.assignee)
        self.fields["assignee"].choices = [
            ("", _("Nobody")),
            *((p.pk, p.display_name) for p in people),
        ]
        for name, may in self.editable.items():
            if not may:
                self.fields[name].disabled = True
                self.fields[name].required = False

    @property
    def any_editable(self) -> bool:
        return any(self.editable.values())

    @property
    def tag_suggestions(self):
        return Tag.objects.order_by("name").values_list("name", flat=True)[:200]

    def changed_fields(self) -> list[str]:
        """The editable fields whose posted value differs from the ticket's."""
        data, t = self.cleaned_data, self.ticket
        current = {
            "status": t.status,
            "priority": t.priority,
            "category": t.category,
            "system": t.system_id,
            "assignee": t.assignee_id,
            "level": t.level,
            "tags": sorted(x.name for x in t.tags.all()),
        }
        changed = []
        for name, value in current.items():
            if not self.editable[name] or name not in data:
                continue
            new = data[name]
            if name == "tags":
                new = sorted({" ".join(p.split()).lower() for p in new.split(",") if p.strip()})
            if new != value:
                changed.append(name)
        return changed

    def clean(self):
        data = super().clean()
        t = self.ticket
        if (
            self.editable["priority"]
            and data.get("priority") not in (None, t.priority)
            and not (data.get("priority_reason") or "").strip()
        ):
            self.add_error("priority_reason", _("Please give a reason for the new priority."))
        if (
            self.editable["status"]
            and data.get("status") in self.reason_targets
            and not (data.get("status_reason") or "").strip()
        ):
            self.add_error("status_reason", _("Please give a reason for this change."))
        if self.editable["level"] and data.get("level") not in (None, Level.L1, Level.L2):
            self.add_error("level", _("Choose a support level."))
        return data


class TimeEntryForm(forms.Form):
    """The time panel's "Add time" (a call, a meeting: time without a message) and the
    correction of one entry."""

    minutes = forms.CharField(
        label=_("Time spent"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"placeholder": _("e.g. 30m, 1h 15m"), "autocomplete": "off", "size": 10}
        ),
    )
    spent_on = forms.DateField(
        label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=250,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. phone call with the customer")}),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "time_%s")
        super().__init__(*args, **kwargs)

    def clean_minutes(self) -> int:
        from aftercare.timetracking.services import check_minutes, parse_duration

        minutes = parse_duration(self.cleaned_data.get("minutes") or "")
        try:
            return check_minutes(minutes)
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
