from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from aftercare.lifecycle.models import Environment
from aftercare.tenancy.models import Organisation


class IntegrationForm(forms.Form):
    """Choices are only what the person may reach; the service checks again."""

    organisation = forms.ModelChoiceField(label=_("Customer"), queryset=Organisation.objects.none())
    environment = forms.ModelChoiceField(
        label=_("Environment"),
        queryset=Environment.objects.none(),
        required=False,
        help_text=_("Empty: each alert names its environment (a field, a label or a route)."),
    )
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("What sends the alerts."))
    resolve_moves_to_done = forms.BooleanField(
        label=_("A resolved alert moves its request to Done"), required=False
    )

    def __init__(self, *args, organisations, environments, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations
        self.fields["environment"].queryset = environments

    def clean(self):
        data = super().clean()
        org, env = data.get("organisation"), data.get("environment")
        if org is not None and env is not None and env.organisation_id != org.pk:
            self.add_error("environment", _("This environment belongs to another customer."))
        return data


class RouteForm(forms.Form):
    label_key = forms.CharField(label=_("Label"), max_length=100)
    label_value = forms.CharField(label=_("Value"), max_length=200)
    environment = forms.ModelChoiceField(
        label=_("Environment"), queryset=Environment.objects.none()
    )

    def __init__(self, *args, environments, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["environment"].queryset = environments
