"""Extending an SLA deadline by agreement with the customer, from the request page."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from aftercare.console.views.common import agent_required
from aftercare.desk.querysets import get_ticket_for_user
from aftercare.lib.wallclock import in_zone
from aftercare.lib.widgets import DateTimeInput
from aftercare.sla import services as sla_services
from aftercare.sla.models import SlaClock
from aftercare.tenancy.models import ContactPerson


class ExtensionForm(forms.Form):
    metric = forms.ChoiceField(label=_lazy("Target"), choices=())
    agreed_by = forms.ModelChoiceField(
        label=_lazy("Agreed with"), queryset=ContactPerson.objects.none()
    )
    new_deadline = forms.DateTimeField(
        label=_lazy("New deadline"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=DateTimeInput(),
    )
    reason = forms.CharField(label=_lazy("Reason"), max_length=500)

    def __init__(self, *args, ticket, **kwargs) -> None:
        self.ticket = ticket
        super().__init__(*args, **kwargs)
        clocks = SlaClock.objects.filter(ticket=ticket).order_by("metric")
        self.fields["metric"].choices = [
            (c.metric, c.get_metric_display()) for c in clocks if c.is_active
        ]
        self.fields["agreed_by"].queryset = ContactPerson.objects.filter(
            organisation_id=ticket.organisation_id
        ).order_by("name")
        self.fields["new_deadline"].help_text = _lazy("In the customer's time zone, %(zone)s.") % {
            "zone": ticket.organisation.time_zone
        }

    def clean_new_deadline(self):
        return in_zone(self.cleaned_data["new_deadline"], self.ticket.organisation.zone)


def extension_form(ticket, data=None) -> ExtensionForm | None:
    """The form for the request page, or None when no clock is running."""
    form = ExtensionForm(data, ticket=ticket)
    return form if form.fields["metric"].choices else None


@agent_required
def sla_extend(request: HttpRequest, number: str) -> HttpResponse:
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = ExtensionForm(request.POST, ticket=ticket)
    if form.is_valid():
        data = form.cleaned_data
        try:
            sla_services.extend(
                ticket=ticket,
                actor=request.user,
                metric=data["metric"],
                agreed_by=data["agreed_by"],
                new_deadline=data["new_deadline"],
                reason=data["reason"],
            )
        except sla_services.ExtensionError as exc:
            form.add_error(None, exc.message)
        except PermissionDenied:
            raise
        else:
            messages.success(request, _("Deadline extended as agreed with the customer."))
            return redirect(
                reverse("console:ticket", kwargs={"number": ticket.number}) + "#sla-panel"
            )
    from aftercare.console.views.request import _ticket_context

    messages.error(request, _("The deadline was not extended; see the service-level panel."))
    context = _ticket_context(request, ticket)
    context["sla_extension_form"] = form
    return render(request, "console/ticket.html", context, status=400)
