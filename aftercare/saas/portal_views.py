"""Customer pages (``/portal/migrations/``): the organisation's offers (PDF, confirm or
decline), the acceptance of the migrated site, the final statement.

Every member of the organisation sees them; only a coordinator decides and accepts.
Other organisations' migrations and leads without an organisation do not exist here.
"""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from aftercare.saas import services
from aftercare.saas.forms import AcceptanceForm, DecisionForm
from aftercare.saas.models import Migration, Offer, State, totals
from aftercare.saas.views import pdf_response


def _customer(view):
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if request.permset.is_agent:
            # Staff are sent to the console page of what they may see; anything else is
            # missing for them, exactly as in the console.
            from aftercare.saas.views import _get as staff_get
            from aftercare.saas.views import _get_offer as staff_get_offer

            if "migration_id" in kwargs:
                migration = staff_get(request, kwargs["migration_id"])
                return redirect("saas:detail", migration_id=migration.pk)
            if "offer_id" in kwargs:
                offer = staff_get_offer(request, kwargs["offer_id"])
                return redirect("saas:detail", migration_id=offer.migration_id)
            return redirect("saas:list")
        return view(request, *args, **kwargs)

    return wrapper


def _mine(request: HttpRequest):
    """Migrations of the user's organisations that have reached the customer (an offer)."""
    orgs = list(request.permset.memberships)
    return (
        Migration.objects.filter(organisation_id__in=orgs)
        .exclude(state=State.LEAD)
        .select_related("organisation")
    )


def _get(request: HttpRequest, migration_id: int) -> Migration:
    return get_object_or_404(_mine(request), pk=migration_id)


def _get_offer(request: HttpRequest, offer_id: int) -> Offer:
    offer = get_object_or_404(
        Offer.objects.exclude(status=Offer.Status.DRAFT).select_related("migration"), pk=offer_id
    )
    _get(request, offer.migration_id)
    return offer


@_customer
def portal_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "saas/portal_list.html", {"migrations": _mine(request).order_by("-created_at")}
    )


def _context(request: HttpRequest, migration: Migration, **extra) -> dict:
    offers = list(
        migration.offers.exclude(status=Offer.Status.DRAFT)
        .prefetch_related("items")
        .order_by("-revision")
    )
    for offer in offers:
        offer.sums = totals(offer.items.all())
    coordinator = services.is_coordinator(request.user, migration)
    return {
        "migration": migration,
        "offers": offers,
        "is_coordinator": coordinator,
        "decision_form": DecisionForm(),
        "acceptance_form": AcceptanceForm(
            initial={"name": request.user.display_name, "accepted_on": timezone.localdate()}
        ),
        "checklist_done": services.next_step(migration) is None,
        "acceptance": getattr(migration, "acceptance", None),
        "statement": getattr(migration, "statement", None),
        "S": State,
        **extra,
    }


@_customer
def portal_detail(request: HttpRequest, migration_id: int) -> HttpResponse:
    migration = _get(request, migration_id)
    return render(request, "saas/portal_detail.html", _context(request, migration))


@_customer
def portal_offer_pdf(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = _get_offer(request, offer_id)
    return pdf_response(offer.pdf, f"offer-{offer.migration.reference}-{offer.revision}.pdf")


@_customer
def portal_decide(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = _get_offer(request, offer_id)
    migration = offer.migration
    if request.method != "POST":
        return redirect("saas_portal:detail", migration_id=migration.pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        context = _context(request, migration, decision_form=form)
        return render(request, "saas/portal_detail.html", context, status=400)
    try:
        services.decide_offer(
            offer=offer,
            confirm=form.cleaned_data["decision"] == "confirm",
            via=Offer.Via.PORTAL,
            user=request.user,
            note=form.cleaned_data["note"],
        )
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect("saas_portal:detail", migration_id=migration.pk)
    except services.TransitionError as exc:
        messages.error(request, exc.message)
        return redirect("saas_portal:detail", migration_id=migration.pk)
    messages.success(request, _("Thank you: your answer was recorded."))
    return redirect("saas_portal:detail", migration_id=migration.pk)


@_customer
def portal_accept(request: HttpRequest, migration_id: int) -> HttpResponse:
    migration = _get(request, migration_id)
    if request.method != "POST":
        return redirect("saas_portal:detail", migration_id=migration.pk)
    form = AcceptanceForm(request.POST)
    if form.is_valid():
        try:
            services.accept(migration=migration, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in getattr(exc, "error_dict", {}).items():
                form.add_error(field, errors)
        except (PermissionDenied, services.TransitionError) as exc:
            messages.error(request, getattr(exc, "message", None) or str(exc))
            return redirect("saas_portal:detail", migration_id=migration.pk)
        else:
            messages.success(request, _("Thank you: the acceptance was recorded."))
            return redirect("saas_portal:detail", migration_id=migration.pk)
    context = _context(request, migration, acceptance_form=form)
    return render(request, "saas/portal_detail.html", context, status=400)


@_customer
def portal_statement_pdf(request: HttpRequest, migration_id: int) -> HttpResponse:
    migration = _get(request, migration_id)
    statement = getattr(migration, "statement", None)
    if statement is None:
        messages.info(request, _("No final statement has been issued yet."))
        return redirect("saas_portal:detail", migration_id=migration.pk)
    return pdf_response(statement.pdf, f"statement-{statement.number}.pdf")


def link_is_spent(link) -> bool:
    """Used, answered another way, replaced by a newer revision, or expired: the link
    page then names nothing of the offer (company, number, amounts)."""
    offer = link.offer
    if link.used_at is not None or offer.status != Offer.Status.SENT:
        return True
    return bool(offer.sent_at and timezone.now() > offer.sent_at + timedelta(days=offer.valid_days))


SPENT = gettext_lazy("This link has already been used or has expired.")


@never_cache
def offer_link(request: HttpRequest, offer_token: str) -> HttpResponse:
    """The capability link from the offer mail. GET shows the offer (mail scanners open
    links: nothing changes on GET); POST records the decision once. A used or expired
    link shows only a neutral message: whoever finds the mail later learns nothing."""
    from aftercare.tenancy.scoping import system_scope

    with system_scope():
        try:
            link = services.link_for_token(offer_token)
        except services.TransitionError as exc:
            return render(request, "saas/offer_link.html", {"error": exc.message}, status=404)
        if link_is_spent(link):
            status = 409 if request.method == "POST" else 410
            return render(request, "saas/offer_link.html", {"spent": SPENT}, status=status)
        offer = link.offer
        context = {
            "offer": offer,
            "migration": offer.migration,
            "sums": offer.totals(),
            "items": list(offer.items.all()),
            "form": DecisionForm(),
        }
        if request.method == "POST":
            form = DecisionForm(request.POST)
            context["form"] = form
            if not form.is_valid():
                return render(request, "saas/offer_link.html", context, status=400)
            try:
                offer = services.decide_by_token(
                    token=offer_token,
                    confirm=form.cleaned_data["decision"] == "confirm",
                    note=form.cleaned_data["note"],
                )
            except services.TransitionError:
                return render(request, "saas/offer_link.html", {"spent": SPENT}, status=409)
            return render(
                request,
                "saas/offer_link.html",
                {"done": True, "status": offer.get_status_display()},
            )
        return render(request, "saas/offer_link.html", context)
