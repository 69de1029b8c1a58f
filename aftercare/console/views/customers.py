"""Customers: the organisations list and one organisation."""

from __future__ import annotations

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from aftercare.console.views.common import agent_required
from aftercare.desk.models import OPEN_STATUSES
from aftercare.tenancy.models import Membership
from aftercare.tenancy.querysets import visible_organisations


@agent_required
def organisations(request: HttpRequest) -> HttpResponse:
    orgs = (
        visible_organisations(request.permset)
        .annotate(open_count=Count("tickets", filter=_open_q()))
        .order_by("name")
    )
    return render(
        request, "console/organisations.html", {"organisations": orgs, "nav": "organisations"}
    )


def _open_q():

    return Q(tickets__status__in=OPEN_STATUSES)


@agent_required
def organisation_detail(request: HttpRequest, code: str) -> HttpResponse:
    from django.http import Http404

    org = visible_organisations(request.permset).filter(code=code).first()
    if org is None:
        raise Http404("No such organisation")
    params = QueryDict(mutable=True)
    params["organisation"] = str(org.pk)
    return render(
        request,
        "console/organisation.html",
        {
            "org": org,
            "members": Membership.objects.filter(organisation=org).select_related("user"),
            "contacts": org.contacts.all(),
            "bounced": _bounced(org),
            "contracts": org.contracts.all(),
            "systems": org.systems.all(),
            "queue_params": params.urlencode(),
            "nav": "organisations",
        },
    )


def _bounced(org) -> dict[str, str]:
    """Addresses of the organisation's people that mail does not reach, with the reason."""
    from aftercare.mail.models import AddressStatus

    addresses = {
        a.lower()
        for a in [
            *Membership.objects.filter(organisation=org).values_list("user__email", flat=True),
            *org.contacts.values_list("email", flat=True),
        ]
        if a
    }
    rows = AddressStatus.objects.filter(address__in=addresses, bounce_count__gt=0)
    return {r.address: r.bounce_reason or "?" for r in rows}
