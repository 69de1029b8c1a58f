from __future__ import annotations

from datetime import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftercare.availability.models import Downtime
from aftercare.desk.models import Category, Ticket
from aftercare.lib.widgets import DateTimeInput
from aftercare.lifecycle.models import Environment

INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
INCIDENTS_OFFERED = 40  # the organisation's latest incidents and problems


class DowntimeForm(forms.Form):
    """What the person saw; ``services.record_downtime`` / ``update_downtime`` decide."""

    PLANNED_AUTO = "auto"
    PLANNED_CHOICES = [
        (PLANNED_AUTO, _("From the maintenance windows")),
        ("yes", _("Planned (maintenance)")),
        ("no", _("Unplanned")),
    ]

    started_at = forms.DateTimeField(
        label=_("Started"), input_formats=INPUT_FORMATS, widget=DateTimeInput()
    )
    ended_at = forms.DateTimeField(
        label=_("Ended"),
        input_formats=INPUT_FORMATS,
        widget=DateTimeInput(),
        required=False,
        help_text=_("Empty while the downtime goes on."),
    )
    cause = forms.CharField(
        label=_("Cause"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    planned = forms.ChoiceField(label=_("Planned"), choices=PLANNED_CHOICES)
    incidents = forms.ModelMultipleChoiceField(
        label=_("Linked requests"),
        help_text=_("The customer's incidents and problems about this downtime."),
        queryset=Ticket.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(
        self, *args, environment: Environment, downtime: Downtime | None = None, **kwargs
    ) -> None:
        self.environment = environment
        zone = environment.organisation.zone
        if downtime is not None:
            kwargs.setdefault(
                "initial",
                {
                    "started_at": _local(downtime.started_at, zone),
                    "ended_at": _local(downtime.ended_at, zone) if downtime.ended_at else None,
                    "cause": downtime.cause,
                    "planned": "yes" if downtime.planned else "no",
                    "incidents": list(downtime.incidents.all()),
                },
            )
        else:
            kwargs.setdefault(
                "initial", {"started_at": _local(timezone.now(), zone), "planned": "auto"}
            )
        super().__init__(*args, **kwargs)
        if downtime is not None:
            # An existing record says planned or not; "auto" applies to new ones only.
            self.fields["planned"].choices = self.PLANNED_CHOICES[1:]
        hint = _("In the customer's time zone, %(zone)s.") % {
            "zone": environment.organisation.time_zone
        }
        self.fields["started_at"].help_text = hint
        latest = list(
            Ticket.objects.filter(organisation_id=environment.organisation_id)
            .filter(category__in=(Category.INCIDENT, Category.PROBLEM))
            .order_by("-created_at", "-pk")
            .values_list("pk", flat=True)[:INCIDENTS_OFFERED]
        )
        linked = list(downtime.incidents.values_list("pk", flat=True)) if downtime else []
        self.fields["incidents"].queryset = Ticket.objects.filter(
            organisation_id=environment.organisation_id, pk__in=[*latest, *linked]
        ).order_by("-created_at", "-pk")
        self.fields["incidents"].label_from_instance = lambda t: f"{t.number} {t.subject}"

    def _aware(self, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        # The browser sends wall-clock time; it is the customer's, not the server's.
        if timezone.is_aware(value):
            value = value.replace(tzinfo=None)
        return timezone.make_aware(value, self.environment.organisation.zone)

    def clean_started_at(self) -> datetime | None:
        return self._aware(self.cleaned_data.get("started_at"))

    def clean_ended_at(self) -> datetime | None:
        return self._aware(self.cleaned_data.get("ended_at"))

    def planned_value(self) -> bool | None:
        choice = self.cleaned_data["planned"]
        return None if choice == self.PLANNED_AUTO else choice == "yes"


class EndForm(forms.Form):
    ended_at = forms.DateTimeField(
        label=_("Ended"), input_formats=INPUT_FORMATS, widget=DateTimeInput()
    )

    def __init__(self, *args, environment: Environment, **kwargs) -> None:
        self.environment = environment
        kwargs.setdefault(
            "initial", {"ended_at": _local(timezone.now(), environment.organisation.zone)}
        )
        super().__init__(*args, **kwargs)

    def clean_ended_at(self) -> datetime:
        value = self.cleaned_data["ended_at"]
        if timezone.is_aware(value):
            value = value.replace(tzinfo=None)
        return timezone.make_aware(value, self.environment.organisation.zone)


def _local(moment: datetime, zone) -> datetime:
    return timezone.localtime(moment, zone).replace(second=0, microsecond=0, tzinfo=None)
