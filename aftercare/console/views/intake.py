"""Requests registered on behalf of callers (phone, messenger, walk-in)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet, Role
from aftercare.console.forms import (
    OnBehalfForm,
)
from aftercare.console.views.common import _attach_errors, agent_required
from aftercare.desk import services
from aftercare.tenancy.models import Membership, System
from aftercare.tenancy.querysets import visible_organisations


@agent_required
def new_ticket(request: HttpRequest) -> HttpResponse:
    permset = request.permset
    if not permset.has("desk.open_ticket_on_behalf"):
        raise PermissionDenied(_("You may not register requests on behalf of customers."))
    organisations = list(visible_organisations(permset).filter(is_active=True))
    form = OnBehalfForm(
        request.POST or None,
        request.FILES or None,
        initial={"organisation": request.GET.get("organisation")},
    )
    form.fields["organisation"].choices = [("", "—"), *((o.pk, o.name) for o in organisations)]
    # Callers are people of the organisations in reach, and only of the chosen one once
    # one is chosen (``_caller`` and ``open_ticket`` check the posted caller again).
    chosen = _chosen_organisation(form, organisations)
    form.fields["reporter"].error_messages["invalid_choice"] = _(
        "The caller is not a member of this organisation."
    )
    members = (
        Membership.objects.filter(organisation__in=[chosen] if chosen else organisations)
        .select_related("user", "organisation")
        .order_by("organisation__name", "user__first_name")
    )
    form.fields["reporter"].choices = [
        ("", _("— new caller —")),
        *((m.user_id, f"{m.organisation.name} — {m.user.display_name}") for m in members),
    ]
    systems = System.objects.filter(organisation__in=organisations).select_related("organisation")
    form.fields["system"].choices = [
        ("", "—"),
        *((s.pk, f"{s.organisation.name} — {s}") for s in systems),
    ]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        org = next(o for o in organisations if o.pk == data["organisation"])
        try:
            with transaction.atomic():
                reporter = _caller(data, org)
                system = None
                if data["system"]:
                    system = System.objects.filter(pk=int(data["system"])).first()
                ticket = services.open_ticket(
                    actor=request.user,
                    organisation=org,
                    reporter=reporter,
                    subject=data["subject"],
                    description=data["description"],
                    conditions=data["conditions"],
                    category=data["category"],
                    priority=data["priority"],
                    channel=data["channel"],
                    system=system,
                    attachments=data["files"],
                )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(
                request, _("Request %(number)s registered.") % {"number": ticket.number}
            )
            return redirect("console:ticket", number=ticket.number)
    return render(
        request,
        "console/new_ticket.html",
        {"form": form, "nav": "new"},
        status=400 if request.method == "POST" else 200,
    )


def _chosen_organisation(form: OnBehalfForm, organisations: list):
    value = form.data.get("organisation") if form.is_bound else form.initial.get("organisation")
    try:
        pk = int(value or 0)
    except (TypeError, ValueError):
        return None
    return next((o for o in organisations if o.pk == pk), None)


def _caller(data: dict, organisation) -> User:
    if data.get("reporter"):
        member = Membership.objects.filter(
            organisation=organisation, user_id=data["reporter"]
        ).select_related("user")
        found = member.first()
        if found is None:
            raise ValidationError(
                {"reporter": _("The caller is not a member of this organisation.")}
            )
        return found.user
    email = data["new_caller_email"].strip().lower()
    user = User.objects.filter(email__iexact=email).order_by("-is_active", "pk").first()
    if user is not None and PermSet(user).is_agent:
        # A staff account must not quietly become a customer of this organisation.
        raise ValidationError({"new_caller_email": _("This address belongs to a member of staff.")})
    if (
        user is not None
        and not Membership.objects.with_scopes_disabled()
        .filter(user=user, organisation=organisation)
        .exists()
    ):
        # Someone of another customer (or of none): never re-home them here, and say
        # nothing of who they are or where they work.
        raise ValidationError(
            {
                "new_caller_email": _(
                    "This address belongs to an existing account outside this customer; "
                    "ask an administrator to add it."
                )
            }
        )
    if user is None:
        first, _sep, last = data["new_caller_name"].strip().partition(" ")
        user = User(
            username=f"{email.split('@')[0][:100]}-{get_random_string(6).lower()}",
            email=email,
            first_name=first[:150],
            last_name=last[:150],
            language=organisation.language,
        )
        user.set_unusable_password()
        user.save()
    Membership.objects.get_or_create(
        user=user, organisation=organisation, defaults={"role": Role.CUSTOMER}
    )
    return user
