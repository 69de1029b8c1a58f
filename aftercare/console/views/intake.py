"""Requests registered on behalf of callers (phone, messenger, walk-in)."""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Replace
from django.http import HttpRequest, HttpResponse, JsonResponse
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

CALLER_RESULTS = 20


def _may_open_on_behalf(request: HttpRequest) -> None:
    if not request.permset.has("desk.open_ticket_on_behalf"):
        raise PermissionDenied(_("You may not register requests on behalf of customers."))


@agent_required
def new_ticket(request: HttpRequest) -> HttpResponse:
    """The form; ``?organisation=`` (and ``&pick=`` a caller) fills it in.

    Choosing the organisation re-asks this page with htmx and swaps in only the caller
    and system fields, filtered to that organisation, so what was typed elsewhere stays.
    """
    permset = request.permset
    _may_open_on_behalf(request)
    organisations = list(visible_organisations(permset).filter(is_active=True))
    form = OnBehalfForm(
        request.POST or None,
        request.FILES or None,
        initial={
            "organisation": request.GET.get("organisation"),
            "reporter": request.GET.get("pick"),
        },
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
    systems = System.objects.filter(
        organisation__in=[chosen] if chosen else organisations
    ).select_related("organisation")
    form.fields["system"].choices = [
        ("", "—"),
        *((s.pk, str(s) if chosen else f"{s.organisation.name} — {s}") for s in systems),
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
        {"form": form, "nav": "new", "chosen": chosen},
        status=400 if request.method == "POST" else 200,
    )


@agent_required
def callers(request: HttpRequest) -> JsonResponse:
    """Type-ahead for the caller: people of the organisations this agent may see.

    ``?q=`` matches every word against the first and last name, the e-mail address and
    the phone number (spaces, dashes, dots and brackets ignored on both sides);
    ``?organisation=`` narrows to one organisation, and one out of reach gives nothing.
    """
    _may_open_on_behalf(request)
    query = (request.GET.get("q") or "").strip()[:100]
    reach = visible_organisations(request.permset).filter(is_active=True)
    organisation = request.GET.get("organisation") or ""
    if organisation:
        valid = organisation.isascii() and organisation.isdigit() and len(organisation) < 10
        reach = reach.filter(pk=int(organisation)) if valid else reach.none()
    if len(query) < 2:
        return JsonResponse({"results": []})
    members = (
        Membership.objects.filter(organisation__in=reach, user__is_active=True)
        .annotate(phone_digits=_digits("user__phone"))
        .select_related("user", "organisation")
    )
    whole = _strip_phone(query)
    if re.fullmatch(r"\+?\d{3,}", whole):
        # A phone number, however it was typed: "+40 21-000", "0721 000".
        # A leading 0 or + is where national and international forms differ.
        members = members.filter(phone_digits__contains=whole.lstrip("+").lstrip("0") or whole)
    else:
        for word in query.split()[:5]:
            match = Q()
            # SQLite's LIKE ignores case for ASCII only: "ștefan" must still find "Ștefan".
            for form in {word, word.lower(), word.capitalize(), word.upper()}:
                match |= (
                    Q(user__first_name__icontains=form)
                    | Q(user__last_name__icontains=form)
                    | Q(user__email__icontains=form)
                )
            members = members.filter(match)
    members = members.order_by("user__first_name", "user__last_name", "organisation__name", "pk")
    results = [
        {
            "id": m.user_id,
            "name": m.user.display_name,
            "email": m.user.email,
            "phone": m.user.phone,
            "organisation": m.organisation_id,
            "organisation_name": m.organisation.name,
        }
        for m in members[:CALLER_RESULTS]
    ]
    return JsonResponse({"results": results})


PHONE_NOISE = (" ", "-", ".", "(", ")", "/")


def _strip_phone(text: str) -> str:
    for char in PHONE_NOISE:
        text = text.replace(char, "")
    return text


def _digits(field: str) -> Replace | str:
    expression = field
    for char in PHONE_NOISE:
        expression = Replace(expression, Value(char), Value(""))
    return expression


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
