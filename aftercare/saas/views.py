"""Staff pages for SaaS migrations (``/saas/``): list, detail with offer editor,
send, schedule, checklist, extras, final statement, PDF downloads.

Every page fetches the migration through ``_get`` first (404 for what the agent may not
see), then checks the permission to change (403), so a restricted agent cannot even learn
that another organisation's migration exists.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from aftercare.console.views import agent_required
from aftercare.saas import services
from aftercare.saas.forms import (
    ConvertForm,
    ExtraForm,
    ItemFormSet,
    LinkForm,
    OfferTermsForm,
    ScheduleForm,
    TickForm,
    UndoForm,
)
from aftercare.saas.models import STEP_ORDER, Extra, Migration, Offer, State, Step, totals
from aftercare.tenancy.querysets import visible_organisations


def visible_migrations(permset):
    """The migrations an agent may see; the scope hides other organisations' rows and,
    for restricted agents, leads without an organisation."""
    if not permset.has(services.VIEW):
        return Migration.objects.none()
    qs = Migration.objects.select_related("organisation")
    restricted = permset.agent_restricted_to
    if restricted is not None:
        qs = qs.filter(organisation_id__in=restricted)
    return qs


def _get(request: HttpRequest, migration_id: int) -> Migration:
    if not request.permset.has(services.VIEW):
        raise PermissionDenied(_("You may not see SaaS migrations."))
    return get_object_or_404(visible_migrations(request.permset), pk=migration_id)


def _get_offer(request: HttpRequest, offer_id: int) -> Offer:
    if not request.permset.has(services.VIEW):
        raise PermissionDenied(_("You may not see SaaS migrations."))
    offer = get_object_or_404(Offer.objects.select_related("migration"), pk=offer_id)
    _get(request, offer.migration_id)
    return offer


def _manage(request: HttpRequest) -> None:
    if not request.permset.has(services.MANAGE):
        raise PermissionDenied(_("You may not manage SaaS migrations."))


def _fail(request: HttpRequest, exc: Exception) -> None:
    if isinstance(exc, ValidationError):
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.error(request, getattr(exc, "message", None) or str(exc))


@agent_required
def migration_list(request: HttpRequest) -> HttpResponse:
    if not request.permset.has(services.VIEW):
        raise PermissionDenied(_("You may not see SaaS migrations."))
    qs = visible_migrations(request.permset)
    state = request.GET.get("state", "")
    if state in State.values:
        qs = qs.filter(state=state)
    page = Paginator(qs.order_by("-created_at", "-pk"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "saas/list.html",
        {"page": page, "state": state, "states": State.choices, "nav": "saas"},
    )


def _detail_context(request: HttpRequest, migration: Migration, **extra) -> dict:
    offers = list(migration.offers.prefetch_related("items").order_by("-revision"))
    for offer in offers:
        offer.sums = totals(offer.items.all())
    draft = next((o for o in offers if o.status == Offer.Status.DRAFT), None)
    extras = list(migration.extras.all())
    ticks = {t.step: t for t in migration.ticks.select_related("done_by")}
    nxt = services.next_step(migration)
    checklist = [(s, Step(s).label, ticks.get(s), s == nxt) for s in STEP_ORDER]
    context = {
        "migration": migration,
        "offers": offers,
        "draft": draft,
        "extras": extras,
        "extras_totals": totals(extras),
        "checklist": checklist,
        "events": migration.events.select_related("actor"),
        "can_manage": request.permset.has(services.MANAGE),
        "can_add_org": request.permset.has("tenancy.add_organisation"),
        "organisations": visible_organisations(request.permset).filter(is_active=True),
        "schedule_form": ScheduleForm(
            initial={
                "scheduled_for": migration.scheduled_for or migration.desired_date,
                "target_site": migration.target_site,
                "training_needs": migration.training_needs,
                "weekend": migration.weekend,
                "document_archive": migration.document_archive,
                **_window_initial(migration),
            }
        ),
        "extra_form": ExtraForm(),
        "tick_form": TickForm(),
        "last_tick": next((s for s in reversed(STEP_ORDER) if s in ticks), None),
        "convert_form": ConvertForm(),
        "acceptance": getattr(migration, "acceptance", None),
        "statement": getattr(migration, "statement", None),
        "S": State,
        "nav": "saas",
    }
    context.update(extra)
    return context


def _window_initial(migration: Migration) -> dict:
    """The planned run's times as the form shows them (organisation's time zone)."""
    if migration.starts_at is None or migration.organisation_id is None:
        return {}
    zone = migration.organisation.zone
    start, end = migration.starts_at.astimezone(zone), migration.ends_at.astimezone(zone)
    return {"start_time": start.time(), "ends_on": end.date(), "end_time": end.time()}


@agent_required
def migration_detail(request: HttpRequest, migration_id: int) -> HttpResponse:
    migration = _get(request, migration_id)
    return render(request, "saas/detail.html", _detail_context(request, migration))


@agent_required
@require_POST
def migration_link(request: HttpRequest, migration_id: int) -> HttpResponse:
    migration = _get(request, migration_id)
    _manage(request)
    form = LinkForm(
        request.POST, organisations=visible_organisations(request.permset).filter(is_active=True)
    )
    if not form.is_valid():
        messages.error(request, _("Choose an organisation."))
        return redirect("saas:detail", migration_id=migration.pk)
    try:
        services.link_organisation(
            migration=migration, organisation=form.cleaned_data["organisation"], actor=request.user
        )
    except (services.TransitionError, PermissionDenied) as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("The migration is linked to the organisation."))
    return redirect("saas:detail", migration_id=migration.pk)


@agent_required
@require_POST
def migration_convert(request: HttpRequest, migration_id: int) -> HttpResponse:
    migration = _get(request, migration_id)
    _manage(request)
    form = ConvertForm(request.POST)
    if form.is_valid():
        try:
            org = services.convert_to_organisation(
                migration=migration, actor=request.user, code=form.cleaned_data["code"]
            )
        except (services.TransitionError, ValidationError, PermissionDenied) as exc:
            _fail(request, exc)
        else:
            messages.success(request, _("Organisation %(name)s created.") % {"name": org.name})
            return redirect("saas:detail", migration_id=migration.pk)
    context = _detail_context(request, migration, convert_form=form)
    return render(request, "saas/detail.html", context, status=400)


@agent_required
@require_POST
def offer_new(request: HttpRequest, migration_id: int) -> HttpResponse:
    migration = _get(request, migration_id)
    _manage(request)
    try:
        offer = services.new_offer(migration=migration, actor=request.user)
    except services.TransitionError as exc:
        _fail(request, exc)
        return redirect("saas:detail", migration_id=migration.pk)
    return redirect("saas:offer-edit", offer_id=offer.pk)


@agent_required
def offer_edit(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = _get_offer(request, offer_id)
    if offer.status != Offer.Status.DRAFT:
        messages.info(request, _("A sent offer cannot be changed; make a new revision."))
        return redirect("saas:detail", migration_id=offer.migration_id)
    _manage(request)
    initial_items = [{k: getattr(i, k) for k in services.ITEM_FIELDS} for i in offer.items.all()]
    status = 200
    if request.method == "POST":
        terms = OfferTermsForm(request.POST)
        items = ItemFormSet(request.POST, prefix="items")
        if terms.is_valid() and items.is_valid():
            rows = [
                f.cleaned_data
                for f in items.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]
            try:
                services.save_offer(
                    offer=offer, actor=request.user, items=rows, **terms.cleaned_data
                )
            except services.TransitionError as exc:
                _fail(request, exc)
            else:
                messages.success(request, _("The offer was saved."))
                if request.POST.get("then") == "send":
                    return _send(request, offer)
                return redirect("saas:offer-edit", offer_id=offer.pk)
        status = 400
    else:
        terms = OfferTermsForm(
            initial={
                "currency": offer.currency,
                "valid_days": offer.valid_days,
                "notes": offer.notes,
            }
        )
        items = ItemFormSet(initial=initial_items, prefix="items")
    return render(
        request,
        "saas/offer_edit.html",
        {
            "offer": offer,
            "migration": offer.migration,
            "terms": terms,
            "items": items,
            "sums": offer.totals(),
            "nav": "saas",
        },
        status=status,
    )


def _send(request: HttpRequest, offer: Offer) -> HttpResponse:
    try:
        services.send_offer(offer=offer, actor=request.user)
    except services.TransitionError as exc:
        _fail(request, exc)
        return redirect("saas:offer-edit", offer_id=offer.pk)
    messages.success(
        request,
        _("Offer %(number)s was sent to %(email)s.")
        % {"number": offer.number, "email": offer.migration.email},
    )
    return redirect("saas:detail", migration_id=offer.migration_id)


@agent_required
@require_POST
def offer_send(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = _get_offer(request, offer_id)
    _manage(request)
    return _send(request, offer)


def pdf_response(field, filename: str) -> FileResponse:
    if not field:
        raise Http404(_("No document."))
    return FileResponse(
        field.open("rb"), as_attachment=True, filename=filename, content_type="application/pdf"
    )


@agent_required
def offer_pdf(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = _get_offer(request, offer_id)
    if not offer.pdf:
        # A draft: a preview, rendered now and not stored.
        from aftercare.documents.pdf import render_pdf

        pdf = render_pdf(
            "saas/offer_pdf.html", services.offer_context(offer), offer.migration.doc_language
        )
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="offer-draft-{offer.pk}.pdf"'
        return response
    return pdf_response(offer.pdf, f"offer-{offer.migration.reference}-{offer.revision}.pdf")


@agent_required
@require_POST
def migration_schedule(request: HttpRequest, migration_id: int) -> HttpResponse:
    migration = _get(request, migration_id)
    _manage(request)
    form = ScheduleForm(request.POST)
    if form.is_valid():
        try:
            services.schedule(migration=migration, actor=request.user, **form.cleaned_data)
        except (services.TransitionError, ValidationError) as exc:
            if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
                for field, errors in exc.error_dict.items():
                    form.add_error(field, errors)
            else:
                _fail(request, exc)
        else:
            messages.success(request, _("The migration is scheduled."))
            return redirect("saas:detail", migration_id=migration.pk)
    context = _detail_context(request, migration, schedule_form=form)
    return render(request, "saas/detail.html", context, status=400)


@agent_required
@require_POST
def checklist_tick(request: HttpRequest, migration_id: int, step: str) -> HttpResponse:
    migration = _get(request, migration_id)
    _manage(request)
    form = TickForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("saas:detail", migration_id=migration.pk)
    try:
        services.tick(
            migration=migration,
            actor=request.user,
            step=step,
            note=form.cleaned_data["note"],
            done_at=form.cleaned_data["done_at"],
        )
    except (services.TransitionError, ValidationError) as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("Step done: %(step)s.") % {"step": Step(step).label})
    return redirect("saas:detail", migration_id=migration.pk)


def _undo_allowed(request: HttpRequest, migration: Migration) -> None:
    """Taking back needs the manage permission and a view of the organisation."""
    _manage(request)
    if migration.organisation_id is not None and not request.permset.sees_organisation(
        migration.organisation_id
    ):
        raise Http404(_("No such migration."))


@agent_required
@require_POST
def checklist_untick(request: HttpRequest, migration_id: int, step: str) -> HttpResponse:
    migration = _get(request, migration_id)
    _undo_allowed(request, migration)
    form = UndoForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason: it is kept in the history."))
        return redirect("saas:detail", migration_id=migration.pk)
    try:
        services.untick(
            migration=migration, actor=request.user, step=step, reason=form.cleaned_data["reason"]
        )
    except (services.TransitionError, ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
    else:
        label = Step(step).label if step in STEP_ORDER else step
        messages.success(request, _("Step taken back: %(step)s.") % {"step": label})
    return redirect("saas:detail", migration_id=migration.pk)


@agent_required
@require_POST
def offer_undo(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = _get_offer(request, offer_id)
    _undo_allowed(request, offer.migration)
    form = UndoForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason: it is kept in the history."))
        return redirect("saas:detail", migration_id=offer.migration_id)
    try:
        services.undo_offer_decision(
            offer=offer, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except (services.TransitionError, ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
    else:
        messages.success(
            request,
            _("The answer to %(offer)s was taken back; the offer waits for an answer again.")
            % {"offer": offer.number},
        )
    return redirect("saas:detail", migration_id=offer.migration_id)


@agent_required
@require_POST
def extra_add(request: HttpRequest, migration_id: int) -> HttpResponse:
    migration = _get(request, migration_id)
    _manage(request)
    form = ExtraForm(request.POST)
    if form.is_valid():
        try:
            services.add_extra(migration=migration, actor=request.user, **form.cleaned_data)
        except services.TransitionError as exc:
            _fail(request, exc)
        else:
            messages.success(request, _("The extra was added."))
            return redirect("saas:detail", migration_id=migration.pk)
    context = _detail_context(request, migration, extra_form=form)
    return render(request, "saas/detail.html", context, status=400)


@agent_required
@require_POST
def extra_delete(request: HttpRequest, extra_id: int) -> HttpResponse:
    extra = get_object_or_404(Extra.objects.select_related("migration"), pk=extra_id)
    migration = _get(request, extra.migration_id)
    _manage(request)
    try:
        services.remove_extra(extra=extra, actor=request.user)
    except services.TransitionError as exc:
        _fail(request, exc)
    return redirect("saas:detail", migration_id=migration.pk)


@agent_required
@require_POST
def statement_issue(request: HttpRequest, migration_id: int) -> HttpResponse:
    migration = _get(request, migration_id)
    _manage(request)
    try:
        statement = services.issue_statement(migration=migration, actor=request.user)
    except services.TransitionError as exc:
        _fail(request, exc)
    else:
        messages.success(
            request,
            _("The final statement %(number)s was issued and mailed.")
            % {"number": statement.number},
        )
    return redirect("saas:detail", migration_id=migration.pk)


@agent_required
def statement_pdf(request: HttpRequest, migration_id: int) -> HttpResponse:
    migration = _get(request, migration_id)
    statement = getattr(migration, "statement", None)
    if statement is None:
        messages.info(request, _("No final statement has been issued yet."))
        return redirect("saas:detail", migration_id=migration.pk)
    return pdf_response(statement.pdf, f"statement-{statement.number}.pdf")
