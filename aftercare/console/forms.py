from __future__ import annotations

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from aftercare.desk.forms import RequestForm
from aftercare.desk.models import Category, Channel, Level, Priority, Status

# Sortable columns: column -> (sort key, first click sorts descending). A key is a model
# field, a path (``organisation__name``) or an annotation the queue adds (see
# ``console.views.queue.SORT_ANNOTATIONS``); keyset paging breaks ties by id, so any key
# pages correctly.
SORT_COLUMNS = {
    "number": ("number", True),
    "subject": ("subject_key", False),
    "organisation": ("organisation__name", False),
    "status": ("status_rank", False),
    "priority": ("priority", False),
    "level": ("level", False),
    "assignee": ("assignee_key", False),
    "sla": ("sla_due_at", False),
    "updated": ("updated_at", True),
    "created": ("created_at", True),
}
SORT_LABELS = {
    "number": _("Number"),
    "subject": _("Subject"),
    "organisation": _("Organisation"),
    "status": _("Status"),
    "priority": _("Priority"),
    "level": _("Level"),
    "assignee": _("Assignee"),
    "sla": _("SLA"),
    "updated": _("Updated"),
    "created": _("Created"),
}
_NAMED_SORTS = {
    "-updated": _("Recently updated"),
    "updated": _("Least recently updated"),
    "-created": _("Newest"),
    "created": _("Oldest"),
    "priority": _("Most urgent"),
    "-priority": _("Least urgent"),
    "sla": _("SLA due first"),
    "-sla": _("SLA due last"),
}
# sort value -> (key, descending, label): "number" ascending, "-number" descending.
SORTS = {
    "-updated": ("updated_at", True, _NAMED_SORTS["-updated"]),
    **{
        f"{prefix}{column}": (
            key,
            prefix == "-",
            _NAMED_SORTS.get(
                f"{prefix}{column}",
                format_lazy("{} {}", SORT_LABELS[column], "↓" if prefix else "↑"),
            ),
        )
        for column, (key, _desc) in SORT_COLUMNS.items()
        for prefix in ("", "-")
        if f"{prefix}{column}" != "-updated"
    },
}
# The regulation's L1 order: most urgent first, then first come, first served. Not a
# column: one computed key (``console.views.queue._sort_annotation``) so keyset paging,
# which pages by one key and the id, keeps working.
SORTS["priority-arrival"] = ("priority_arrival", False, _("Priority, then arrival"))
DEFAULT_SORT = "-updated"
# The default of agents who work as L1 operators only (see ``console.views.queue``).
OPERATOR_DEFAULT_SORT = "priority-arrival"
SLA_FILTERS = [
    ("", _("Any")),
    ("hour", _("Due within an hour")),
    ("soon", _("Breaching soon")),
    ("breached", _("Breached")),
    ("paused", _("Paused")),
]

STATUS_FILTERS = [
    ("open", _("All open")),
    *Status.choices,
    ("all", _("Any status")),
]


class _OrganisationField(forms.TypedChoiceField):
    """In the console any organisation id is a valid filter, offered or not.

    A shared view may name an organisation that a restricted agent cannot see: the
    filter must then match nothing for them (the rows are out of their reach anyway),
    not fall away and show every request, and the organisation's name is never shown.
    The API keeps refusing it (``lenient`` off), as its clients expect a 422.
    """

    lenient = False

    def valid_value(self, value) -> bool:
        return (self.lenient and str(value).isdigit()) or super().valid_value(value)


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
    organisation = _OrganisationField(label=_("Organisation"), coerce=int, required=False)
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    sla = forms.ChoiceField(label=_("SLA"), required=False, choices=SLA_FILTERS)
    sort = forms.ChoiceField(
        label=_("Sort"), required=False, choices=[(k, v[2]) for k, v in SORTS.items()]
    )

    def __init__(self, *args, organisations=(), agents=(), lenient_organisation=False, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", _("Any")), *((o.pk, o.name) for o in organisations)]
        wanted = self.data.get("organisation") if self.is_bound else None
        self.fields["organisation"].lenient = lenient_organisation
        if (
            lenient_organisation
            and wanted
            and str(wanted).isdigit()
            and int(wanted) not in {c[0] for c in choices}
        ):
            choices.append((int(wanted), _("An organisation outside your reach")))
        self.fields["organisation"].choices = choices
        self.fields["assignee"].choices = [
            ("", _("Anyone")),
            ("me", _("Me")),
            ("none", _("Unassigned")),
            *((str(a.pk), a.display_name) for a in agents),
        ]


# The filter keys a saved view may hold (the sort is kept beside them).
VIEW_FILTER_KEYS = (
    "q",
    "status",
    "priority",
    "category",
    "level",
    "organisation",
    "assignee",
    "sla",
)


def normalise_filters(params) -> dict[str, str]:
    """The filters of a query string as a plain dict: known keys with a value only.

    ``status=open`` is the default and is dropped, so that "?status=open" and "?" are the
    same view; the queue's sidebar and saved views compare filters in this form.
    """
    out = {}
    for key in VIEW_FILTER_KEYS:
        value = (params.get(key) or "").strip()
        if value and not (key == "status" and value == "open"):
            out[key] = value
    return out


class SavedViewForm(forms.Form):
    """A saved view: a name and the current filters, checked as the queue checks them."""

    name = forms.CharField(label=_("Name"), max_length=80)
    query = forms.CharField(label=_("Filters"), required=False, max_length=1000)
    sort = forms.ChoiceField(
        label=_("Sort"), required=False, choices=[("", "—"), *((k, v[2]) for k, v in SORTS.items())]
    )
    shared = forms.BooleanField(label=_("Shared with every agent"), required=False)

    def __init__(self, *args, organisations=(), agents=(), may_share=False, **kwargs):
        super().__init__(*args, **kwargs)
        self._organisations, self._agents = organisations, agents
        if not may_share:
            del self.fields["shared"]

    def clean_query(self) -> str:
        from urllib.parse import urlencode

        from django.http import QueryDict

        raw = (self.cleaned_data.get("query") or "").lstrip("?")
        params = QueryDict(raw)
        unknown = sorted(set(params) - {*VIEW_FILTER_KEYS, "sort", "after", "before"})
        if unknown:
            raise forms.ValidationError(
                _("Unknown filter: %(names)s.") % {"names": ", ".join(unknown)}
            )
        filters = normalise_filters(params)
        check = QueueFilterForm(filters, organisations=self._organisations, agents=self._agents)
        if not check.is_valid():
            problems = [
                f"{check.fields[name].label}: {' '.join(errors)}"
                for name, errors in check.errors.items()
            ]
            raise forms.ValidationError(problems)
        self._sort_in_query = params.get("sort") or ""
        return urlencode(filters)

    def clean(self):
        data = super().clean()
        # "Save this view" sends the page's query string, sort included.
        if not data.get("sort") and getattr(self, "_sort_in_query", "") in SORTS:
            data["sort"] = self._sort_in_query
        return data


BULK_LIMIT = 200


class _Numbers(forms.MultipleChoiceField):
    """Request numbers as ticked in the list; each is looked up (and may be refused) later."""

    def valid_value(self, value) -> bool:
        return True


class BulkForm(forms.Form):
    """One change for many requests; each is then made through its own service call."""

    ACTIONS = [
        ("assign", _("Assign to")),
        ("status", _("Move to")),
        ("priority", _("Priority")),
        ("level", _("Level")),
        ("tags_add", _("Add tags")),
        ("tags_remove", _("Remove tags")),
    ]
    action = forms.ChoiceField(label=_("Change"), choices=ACTIONS)
    tickets = _Numbers(label=_("Requests"))
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    target = forms.ChoiceField(label=_("Status"), required=False, choices=Status.choices)
    priority = forms.TypedChoiceField(
        label=_("Priority"), coerce=int, required=False, choices=Priority.choices
    )
    level = forms.TypedChoiceField(
        label=_("Level"), coerce=int, required=False, choices=Level.choices
    )
    tags = forms.CharField(label=_("Tags"), required=False, max_length=1000)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=2000)

    def __init__(self, *args, agents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [
            ("none", _("Nobody")),
            *((str(a.pk), a.display_name) for a in agents),
        ]

    def clean_tickets(self) -> list[str]:
        numbers = list(dict.fromkeys(n.strip() for n in self.cleaned_data["tickets"] if n.strip()))
        if len(numbers) > BULK_LIMIT:
            raise forms.ValidationError(
                _("Choose at most %(n)d requests at a time.") % {"n": BULK_LIMIT}
            )
        return numbers

    def clean(self):
        data = super().clean()
        action = data.get("action")
        needed = {
            "assign": "assignee",
            "status": "target",
            "priority": "priority",
            "level": "level",
            "tags_add": "tags",
            "tags_remove": "tags",
        }.get(action or "")
        if needed and data.get(needed) in (None, ""):
            self.add_error(needed, _("This field is required."))
        if action == "priority" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Please give a reason for the new priority."))
        return data


STAFF_CHANNELS = (Channel.PHONE, Channel.EMAIL, Channel.MESSENGER)


class OnBehalfForm(RequestForm):
    organisation = forms.TypedChoiceField(label=_("Organisation"), coerce=int)
    reporter = forms.TypedChoiceField(
        label=_("Caller"), coerce=int, required=False, empty_value=None
    )
    new_caller_name = forms.CharField(label=_("New caller's name"), required=False)
    new_caller_email = forms.EmailField(label=_("New caller's e-mail"), required=False)
    channel = forms.ChoiceField(
        label=_("Received by"),
        # How the caller reached the desk: the portal, the API and the console itself are
        # not ways to call, and a request filed in the portal is the customer's own.
        choices=[(c, label) for c, label in Channel.choices if c in STAFF_CHANNELS],
        initial=Channel.PHONE,
    )
    field_order = ["organisation", "reporter", "new_caller_name", "new_caller_email", "channel"]

    def __init__(self, *args, **kwargs) -> None:
        from django.urls import reverse

        super().__init__(*args, **kwargs)
        # Choosing the organisation swaps in its callers and systems (caller.js, htmx).
        self.fields["organisation"].widget.attrs.update(
            {
                "hx-get": reverse("console:ticket-new"),
                "hx-trigger": "change",
                "hx-target": "#caller-field",
                "hx-select": "#caller-field",
                "hx-select-oob": "#system-field",
                "hx-swap": "outerHTML",
                "hx-include": "#caller-pick",
                "hx-sync": "this:replace",
            }
        )

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
