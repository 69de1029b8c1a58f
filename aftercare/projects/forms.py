from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from aftercare.lib.widgets import DateInput
from aftercare.projects.models import Decision, Side, Snag, StageKind

DATE = DateInput()


class ProjectForm(forms.Form):
    organisation = forms.TypedChoiceField(label=_("Organisation"), coerce=int)
    name = forms.CharField(label=_("Name"), max_length=200)
    system = forms.ChoiceField(label=_("System"), required=False)
    go_live_on = forms.DateField(label=_("Go-live date"), widget=DATE)
    template = forms.TypedChoiceField(label=_("Plan template"), coerce=int)


class StageForm(forms.Form):
    vendor_owner = forms.ChoiceField(label=_("Vendor owner"), required=False)
    customer_owner = forms.ChoiceField(label=_("Customer owner"), required=False)
    due_on = forms.DateField(label=_("Due"), required=False, widget=DATE)


class ParticipantForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    user = forms.ChoiceField(label=_("User account"), required=False)
    side = forms.ChoiceField(label=_("Side"), choices=Side.choices, initial=Side.CUSTOMER)
    role = forms.CharField(label=_("Role"), max_length=200, required=False)
    is_target_user = forms.BooleanField(label=_("Target user"), required=False, initial=True)


class InformedForm(forms.Form):
    on = forms.DateField(label=_("Users informed on"), widget=DATE)


class IncidentForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}))
    reporter = forms.ChoiceField(label=_("Reported by"))


class LinkForm(forms.Form):
    number = forms.CharField(label=_("Request number"), max_length=32)


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Decision.Outcome.choices)
    decided_on = forms.DateField(label=_("Date"), widget=DATE)
    participants = forms.MultipleChoiceField(
        label=_("Participants"), widget=forms.CheckboxSelectMultiple
    )
    reasons = forms.CharField(label=_("Reasons"), widget=forms.Textarea(attrs={"rows": 3}))
    new_go_live_on = forms.DateField(
        label=_("New go-live date (if postponed)"), required=False, widget=DATE
    )


class SnagForm(forms.Form):
    text = forms.CharField(label=_("Action point"), max_length=500)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    due_on = forms.DateField(label=_("Due"), required=False, widget=DATE)


class SnagStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Snag.Status.choices)
    reason = forms.CharField(label=_("Reason for dropping"), required=False, max_length=2000)


class TemplateStageForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=300)
    kind = forms.ChoiceField(label=_("Kind"), choices=StageKind.choices)
    due_offset_days = forms.IntegerField(
        label=_("Due, days before go-live"), required=False, min_value=-365, max_value=3650
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class TemplateItemForm(forms.Form):
    text = forms.CharField(label=_("Text"), max_length=500)
    must_be_first = forms.BooleanField(label=_("Must be met first"), required=False)
    rule = forms.ChoiceField(
        label=_("Rule"),
        required=False,
        choices=[
            ("", _("Ticked by hand")),
            ("logins_tested", _("Every target user's login tested")),
            ("credentials_distributed", _("Every target user's credentials received")),
            ("users_informed", _("Users informed (a date not in the future)")),
        ],
    )


TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class PeopleForm(forms.Form):
    technical_coordinator = forms.ChoiceField(
        label=_("Vendor technical coordinator"), required=False
    )
    customer_responsible = forms.ChoiceField(
        label=_("Responsible on the customer's side"), required=False
    )


class SignOffForm(forms.Form):
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class SessionForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    on = forms.DateField(label=_("Date"), widget=DATE)
    starts = forms.TimeField(label=_("Starts"), widget=TIME)
    ends = forms.TimeField(label=_("Ends"), widget=TIME)
    staff_attendees = forms.MultipleChoiceField(
        label=_("Vendor attendees"), widget=forms.CheckboxSelectMultiple
    )
    contact_attendees = forms.MultipleChoiceField(
        label=_("Customer attendees"), widget=forms.CheckboxSelectMultiple
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts"), data.get("ends")
        if starts is not None and ends is not None and ends <= starts:
            self.add_error("ends", _("The session must end after it starts."))
        return data


class SnagTicketForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        from aftercare.desk.models import Category

        super().__init__(*args, **kwargs)
        self.fields["category"].choices = Category.choices
        self.fields["category"].initial = Category.CHANGE
