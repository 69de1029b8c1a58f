"""Forms shared by the console and the portal."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from aftercare.desk.models import Category, Priority, Status


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data if d]
        return [super().clean(data, initial)] if data else []


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 5}))
    internal = forms.BooleanField(
        label=_("Internal note (not shown to the customer)"), required=False
    )
    files = MultipleFileField(label=_("Attachments"))


class TransitionForm(forms.Form):
    target = forms.ChoiceField(label=_("Move to"))
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, rules=(), staff: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.rules = list(rules)
        self.fields["target"].choices = [(r.target, r.label) for r in self.rules]
        if staff:
            # Status reasons go to the customer (timeline and status mail): say so plainly.
            self.fields["reason"].help_text = _(
                "The customer sees this reason and receives it by e-mail."
            )


class RequestForm(forms.Form):
    """What a customer (or an operator for a caller) tells us about a request."""

    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
    priority = forms.TypedChoiceField(
        label=_("Priority"), choices=Priority.choices, coerce=int, initial=Priority.NORMAL
    )
    system = forms.ChoiceField(label=_("System"), required=False)
    subject = forms.CharField(label=_("Subject"), max_length=250)
    description = forms.CharField(label=_("Detailed description"), widget=forms.Textarea)
    conditions = forms.CharField(
        label=_("Conditions in which the problem appears"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Steps to reproduce, the data used, the environment, error messages."),
    )
    files = MultipleFileField(label=_("Attachments and screenshots"))


class ApprovalRequestForm(forms.Form):
    action_text = forms.CharField(
        label=_("Action the customer must approve"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For example: correct the stock balances directly in the production database."),
    )
    target_status = forms.ChoiceField(
        label=_("Block the move to"),
        required=False,
        choices=[("", _("Nothing (record the consent only)")), *Status.choices],
    )
