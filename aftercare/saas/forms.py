from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftercare.lib.widgets import DateInput, DateTimeInput
from aftercare.saas.models import Extra, LineKind, Migration, OfferItem
from aftercare.saas.spam import HONEYPOT


class QuoteForm(forms.ModelForm):
    """The public quote request; the honeypot and token fields are screened in the view."""

    token = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Migration
        fields = [
            "company",
            "contact_name",
            "email",
            "phone",
            "country",
            "product",
            "users",
            "desired_date",
            "message",
        ]
        widgets = {
            "desired_date": DateInput(),
            "message": forms.Textarea(attrs={"rows": 5, "maxlength": 4000}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # People never see this field (hidden by CSS, skipped by screen readers); bots
        # filling every input do.
        self.fields[HONEYPOT] = forms.CharField(
            required=False,
            label=_("Leave this field empty"),
            widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
        )
        self.fields["users"].min_value = 1
        self.fields["users"].max_value = 100000
        self.fields["users"].widget.attrs.update(min=1, max=100000)
        self.fields["country"].help_text = _("Two-letter code, e.g. RO.")

    def clean_message(self) -> str:
        text = self.cleaned_data.get("message", "")
        if len(text) > 4000:
            raise forms.ValidationError(_("Please keep the message under 4000 characters."))
        return text

    def clean_country(self) -> str:
        value = (self.cleaned_data.get("country") or "").strip().upper()
        if value and (len(value) != 2 or not value.isalpha()):
            raise forms.ValidationError(_("Enter a two-letter country code."))
        return value

    def clean_users(self) -> int:
        value = self.cleaned_data.get("users")
        if value is None or value < 1:
            raise forms.ValidationError(_("Enter the number of users (at least 1)."))
        if value > 100000:
            raise forms.ValidationError(_("Enter at most 100000 users."))
        return value

    def clean_desired_date(self):
        value = self.cleaned_data.get("desired_date")
        if value and value < timezone.localdate():
            raise forms.ValidationError(_("The desired date cannot be in the past."))
        return value


class LineItemForm(forms.ModelForm):
    class Meta:
        model = OfferItem
        fields = ["kind", "description", "quantity", "unit", "unit_price", "vat_rate"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].required = False

    def clean_vat_rate(self) -> Decimal:
        value = self.cleaned_data["vat_rate"]
        if value > 100:
            raise forms.ValidationError(_("A VAT rate is at most 100%."))
        return value

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or LineKind.SERVICE

    def has_changed(self) -> bool:
        # An empty line whose kind menu shows (or lacks) its default is still empty.
        return bool(set(self.changed_data) - {"kind"})


ItemFormSet = forms.formset_factory(LineItemForm, extra=2, can_delete=True, max_num=50)


class OfferTermsForm(forms.Form):
    currency = forms.CharField(label=_("currency"), max_length=3, min_length=3)
    valid_days = forms.IntegerField(label=_("valid for (days)"), min_value=1, max_value=365)
    notes = forms.CharField(
        label=_("notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean_currency(self) -> str:
        value = self.cleaned_data["currency"].upper()
        if not value.isalpha():
            raise forms.ValidationError(_("Enter a three-letter currency code, e.g. EUR."))
        return value


class ExtraForm(forms.ModelForm):
    class Meta:
        model = Extra
        fields = ["kind", "description", "quantity", "unit", "unit_price", "vat_rate"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].required = False

    clean_vat_rate = LineItemForm.clean_vat_rate
    clean_kind = LineItemForm.clean_kind


class ScheduleForm(forms.Form):
    scheduled_for = forms.DateField(label=_("migration date"), widget=DateInput())
    target_site = forms.CharField(label=_("target SaaS site"), max_length=200)
    training_needs = forms.CharField(
        label=_("extra training needs"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    weekend = forms.BooleanField(label=_("weekend migration"), required=False)
    document_archive = forms.BooleanField(
        label=_("with the document archive"),
        required=False,
        help_text=_("The document archive moves too: the run takes one day more."),
    )
    start_time = forms.TimeField(
        label=_("run starts at"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("In the organisation's time zone; empty: 17:00."),
    )
    ends_on = forms.DateField(
        label=_("run ends on"),
        required=False,
        widget=DateInput(),
        help_text=_("Empty: the next day (two days with the document archive)."),
    )
    end_time = forms.TimeField(
        label=_("run ends at"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )


class TickForm(forms.Form):
    note = forms.CharField(label=_("note"), max_length=500, required=False)
    done_at = forms.DateTimeField(
        label=_("done at"),
        required=False,
        widget=DateTimeInput(),
        help_text=_("Empty: now."),
    )


class UndoForm(forms.Form):
    """Taking back a decision or a tick: the reason is required and kept in the history."""

    reason = forms.CharField(
        label=_("reason"),
        max_length=1000,
        widget=forms.TextInput(attrs={"required": True}),
    )


class LinkForm(forms.Form):
    organisation = forms.ModelChoiceField(label=_("organisation"), queryset=None)

    def __init__(self, *args, organisations=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations


class ConvertForm(forms.Form):
    code = forms.SlugField(label=_("short code"), max_length=32)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("confirm", _("Confirm")), ("decline", _("Decline"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("comment"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AcceptanceForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=200)
    accepted_on = forms.DateField(label=_("date"), widget=DateInput())
    comment = forms.CharField(
        label=_("comment"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def default_currency() -> str:
    return settings.AFTERCARE_SAAS_CURRENCY
