from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from aftercare.desk.forms import RequestForm
from aftercare.desk.models import Category, Channel, Level, Priority, Status

SORTS = {
    "-updated": ("updated_at", True, _("Recently updated")),
    "updated": ("updated_at", False, _("Least recently updated")),
    "-created": ("created_at", True, _("Newest")),
    "created": ("created_at", False, _("Oldest")),
    "priority": ("priority", False, _("Most urgent")),
    "sla": ("sla_due_at", False, _("SLA due first")),
}
SLA_FILTERS = [
    ("", _("Any")),
    ("soon", _("Breaching soon")),
    ("breached", _("Breached")),
    ("paused", _("Paused")),
]

STATUS_FILTERS = [
    ("open", _("All open")),
    *Status.choices,
    ("all", _("Any status")),
]


class QueueFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Number or subject")}),
    )
    status = forms.ChoiceField(label=_("Status"), choices=STATUS_FILTERS, required=False)
    priority = forms.TypedChoiceField(
        label=_("Priority"), coerce=int, required=False, choices=[("", _("Any")), *Priority.choices]
    )
    category = forms.ChoiceField(
        label=_("Category"), required=False, choices=[("", _("Any")), *Category.choices]
    )
    level = forms.TypedChoiceField(
        label=_("Level"), coerce=int, required=False, choices=[("", _("Any")), *Level.choices]
    )
    organisation = forms.TypedChoiceField(label=_("Organisation"), coerce=int, required=False)
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    sla = forms.ChoiceField(label=_("SLA"), required=False, choices=SLA_FILTERS)
    sort = forms.ChoiceField(
        label=_("Sort"), required=False, choices=[(k, v[2]) for k, v in SORTS.items()]
    )

    def __init__(self, *args, organisations=(), agents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].choices = [
            ("", _("Any")),
            *((o.pk, o.name) for o in organisations),
        ]
        self.fields["assignee"].choices = [
            ("", _("Anyone")),
            ("me", _("Me")),
            ("none", _("Unassigned")),
            *((str(a.pk), a.display_name) for a in agents),
        ]


class OnBehalfForm(RequestForm):
    organisation = forms.TypedChoiceField(label=_("Organisation"), coerce=int)
    reporter = forms.TypedChoiceField(
        label=_("Caller"), coerce=int, required=False, empty_value=None
    )
    new_caller_name = forms.CharField(label=_("New caller's name"), required=False)
    new_caller_email = forms.EmailField(label=_("New caller's e-mail"), required=False)
    channel = forms.ChoiceField(
        label=_("Received by"),
        choices=[
            (c, label) for c, label in Channel.choices if c not in (Channel.API, Channel.CONSOLE)
        ],
        initial=Channel.PHONE,
    )
    field_order = ["organisation", "reporter", "new_caller_name", "new_caller_email", "channel"]

    def clean(self):
        data = super().clean()
        if not data.get("reporter") and not (
            data.get("new_caller_name") and data.get("new_caller_email")
        ):
            raise forms.ValidationError(
                _("Choose the caller, or give a new caller's name and e-mail.")
            )
        return data


class _OwnIds:
    """Several forms share one page: give each its own element ids (``priority_reason``)."""

    id_prefix = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class AssignForm(_OwnIds, forms.Form):
    id_prefix = "assign"
    assignee = forms.TypedChoiceField(
        label=_("Assignee"), coerce=int, required=False, empty_value=None
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class EscalateForm(_OwnIds, forms.Form):
    id_prefix = "escalate"
    consultant = forms.TypedChoiceField(
        label=_("L2 consultant"), coerce=int, required=False, empty_value=None
    )
    note = forms.CharField(label=_("Why"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class PriorityForm(_OwnIds, forms.Form):
    id_prefix = "priority"
    priority = forms.TypedChoiceField(label=_("Priority"), choices=Priority.choices, coerce=int)
    reason = forms.CharField(
        label=_("Reason"),
        help_text=_("The customer sees this reason beside the priority."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class ClassifyForm(_OwnIds, forms.Form):
    id_prefix = "classify"
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
    system = forms.TypedChoiceField(label=_("System"), coerce=int, required=False, empty_value=None)
    subject = forms.CharField(label=_("Subject"), max_length=250)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
