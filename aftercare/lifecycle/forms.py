from __future__ import annotations

from datetime import datetime

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftercare.desk.models import CLOSED_STATUSES, Approval, Category, Status, Ticket
from aftercare.lib.wallclock import in_zone
from aftercare.lib.widgets import DateInput, DateTimeInput
from aftercare.lifecycle.models import Deployment, Environment, Product, Release, ReleaseNote


class DeploymentForm(forms.Form):
    """What the person saw and did; ``services.deploy`` decides whether it may stand."""

    release = forms.ModelChoiceField(label=_("Release"), queryset=Release.objects.none())
    deployed_at = forms.DateTimeField(
        label=_("When"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=DateTimeInput(),
    )
    result = forms.ChoiceField(label=_("Result"), choices=Deployment.Result.choices)
    change_requests = forms.ModelMultipleChoiceField(
        label=_("Requests delivered"),
        help_text=_(
            "Change requests, and the incidents and problems this deployment fixes. On "
            "production they move to Released and their reporters are told."
        ),
        queryset=Ticket.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    emergency = forms.BooleanField(
        label=_("Emergency change"),
        required=False,
        help_text=_(
            "Skips the rule that a release must first succeed on a test or training "
            "environment. Only a support manager or administrator may record it."
        ),
    )
    emergency_reason = forms.CharField(
        label=_("Reason for the emergency"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, environment: Environment, **kwargs) -> None:
        self.environment = environment
        zone = environment.organisation.zone
        kwargs.setdefault(
            "initial",
            {
                "deployed_at": timezone.localtime(timezone.now(), zone).replace(
                    second=0, microsecond=0, tzinfo=None
                ),
                "result": Deployment.Result.SUCCEEDED,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["deployed_at"].help_text = _("In the customer's time zone, %(zone)s.") % {
            "zone": environment.organisation.time_zone
        }
        self.fields["release"].queryset = Release.objects.filter(
            product__name=environment.system.product
        ).select_related("product")
        self.fields["release"].label_from_instance = lambda r: r.label
        self.fields["change_requests"].queryset = (
            Ticket.objects.filter(organisation_id=environment.organisation_id)
            .filter(category__in=(Category.CHANGE, Category.INCIDENT, Category.PROBLEM))
            .exclude(status__in=(*CLOSED_STATUSES, Status.RELEASED))
            .order_by("-updated_at")
        )
        states = _approval_states(self.fields["change_requests"].queryset)
        none_asked = _("no customer approval asked")
        self.fields["change_requests"].label_from_instance = lambda t: (
            f"{t.number} {t.subject} ({states.get(t.pk, none_asked)})"
        )

    def clean_deployed_at(self) -> datetime:
        return in_zone(self.cleaned_data["deployed_at"], self.environment.organisation.zone)


def _approval_states(tickets) -> dict[int, str]:
    """Ticket id → the customer's latest answer, for the labels (one query for all)."""
    states: dict[int, str] = {}
    rows = (
        Approval.objects.filter(ticket__in=tickets.values("pk"))
        .exclude(state=Approval.State.WITHDRAWN)
        .order_by("ticket_id", "-requested_at", "-pk")
    )
    for approval in rows:
        if approval.ticket_id not in states:
            label = approval.get_state_display()
            if approval.is_expired:
                label = _("approval expired")
            states[approval.ticket_id] = label
    return states


class ReleaseForm(forms.ModelForm):
    class Meta:
        model = Release
        fields = ["product", "version", "service_pack", "released_on", "notes"]
        widgets = {
            "released_on": DateInput(),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.all()


class ReleaseNoteForm(forms.Form):
    """The release notes in one language (replaces that language's text)."""

    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    text = forms.CharField(
        label=_("Release notes"), widget=forms.Textarea(attrs={"rows": 4}), max_length=20000
    )

    def save(self, release: Release) -> ReleaseNote:
        note, _created = ReleaseNote.objects.update_or_create(
            release=release,
            language=self.cleaned_data["language"],
            defaults={"text": self.cleaned_data["text"].strip()},
        )
        return note


class DeliveredRequestForm(forms.Form):
    number = forms.CharField(
        label=_("Request number"),
        max_length=32,
        help_text=_("A change request, incident or problem this release fixes or delivers."),
    )

    def __init__(self, *args, tickets, **kwargs) -> None:
        self.tickets = tickets  # what the person may see
        super().__init__(*args, **kwargs)

    def clean_number(self) -> Ticket:
        number = self.cleaned_data["number"].strip().upper()
        ticket = self.tickets.filter(number=number).select_related("organisation").first()
        if ticket is None:
            raise forms.ValidationError(
                _("No request %(number)s that you may see.") % {"number": number}
            )
        return ticket


class ReleaseApprovalForm(forms.Form):
    """Ask the customer to approve one release going to a production environment."""

    release = forms.ModelChoiceField(label=_("Release"), queryset=Release.objects.none())
    ticket = forms.ModelChoiceField(label=_("Change request"), queryset=Ticket.objects.none())

    def __init__(self, *args, environment: Environment, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["release"].queryset = Release.objects.filter(
            product__name=environment.system.product
        ).select_related("product")
        self.fields["release"].label_from_instance = lambda r: r.label
        self.fields["ticket"].queryset = (
            Ticket.objects.filter(
                organisation_id=environment.organisation_id, category=Category.CHANGE
            )
            .exclude(status__in=(*CLOSED_STATUSES, Status.RELEASED))
            .order_by("-updated_at")
        )
        self.fields["ticket"].label_from_instance = lambda t: f"{t.number} {t.subject}"


class RolloutForm(forms.Form):
    """Plan one release for many customer environments."""

    environments = forms.ModelMultipleChoiceField(
        label=_("Environments"),
        queryset=Environment.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one environment.")},
    )
    day = forms.DateField(
        label=_("Date"),
        widget=DateInput(),
        help_text=_(
            "Environments with maintenance windows are planned at the first window that "
            "opens on or after this date."
        ),
    )
    at_time = forms.TimeField(
        label=_("Time for environments without windows"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
        help_text=_("In each customer's time zone; 09:00 when empty."),
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, environments, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["environments"].queryset = environments
        self.fields["environments"].label_from_instance = lambda e: (
            f"{e.organisation.name} · {e.system.name}: {e.name} "
            f"({e.get_kind_display()}, {e.version or '?'})"
        )


class UpgradeResultForm(forms.Form):
    result = forms.ChoiceField(label=_("Result"), choices=Deployment.Result.choices)
    deployed_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=DateTimeInput(),
        help_text=_("In the customer's time zone; now when empty."),
    )
    notes = forms.CharField(label=_("Notes"), required=False, max_length=2000)

    def __init__(self, *args, zone, **kwargs) -> None:
        self.zone = zone
        super().__init__(*args, **kwargs)

    def clean_deployed_at(self):
        return in_zone(self.cleaned_data.get("deployed_at"), self.zone)
