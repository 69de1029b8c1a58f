"""Privacy requests from the console: export a person's data (managers and
administrators; anyone for themselves), anonymise a person (administrators)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django_scopes import scopes_disabled

from aftercare.accounts import privacy
from aftercare.accounts.models import User
from aftercare.accounts.roles import Role

EXPORT_ROLES = {Role.MANAGER, Role.ADMIN}


def _visible_person(request: HttpRequest, user_id, roles) -> User:
    """The person, if the signed-in agent has one of ``roles`` and may see them; else 404
    (no answer tells an outsider whether the person exists)."""
    permset = request.permset  # type: ignore[attr-defined]
    if not (set(permset.staff_roles) & roles):
        raise Http404
    try:
        person = User.objects.get(pk=int(user_id))
    except (TypeError, ValueError, User.DoesNotExist):
        raise Http404 from None
    scope = permset.organisation_scope
    if scope is not None:
        # An agent restricted to some customers: only people who belong to those only.
        with scopes_disabled():
            theirs = set(person.memberships.values_list("organisation_id", flat=True))
        if not theirs or not theirs <= set(scope):
            raise Http404
    return person


@never_cache
@login_required
def export(request: HttpRequest, user_id: int) -> HttpResponse:
    """A zip of ``data.json`` and the person's uploaded files."""
    if user_id == request.user.pk:
        person, scope = request.user, None
    else:
        person = _visible_person(request, user_id, EXPORT_ROLES)
        scope = request.permset.organisation_scope  # type: ignore[attr-defined]
    data = privacy.collect(person, organisations=scope)
    privacy.record_export(person, actor=request.user)
    response = HttpResponse(privacy.to_zip(data), content_type="application/zip")
    name = slugify(person.username) or f"user-{person.pk}"
    response["Content-Disposition"] = f'attachment; filename="aftercare-export-{name}.zip"'
    return response


class AnonymiseForm(forms.Form):
    user = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label=gettext_lazy("Reason (e.g. the request's date and channel)"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(
        label=gettext_lazy("I understand that this cannot be undone."), required=True
    )


@never_cache
@login_required
def anonymise(request: HttpRequest) -> HttpResponse:
    """Confirm, then anonymise one person (administrators only)."""
    raw = request.POST.get("user") if request.method == "POST" else request.GET.get("user")
    person = _visible_person(request, raw, {Role.ADMIN})
    if person.pk == request.user.pk:
        raise Http404
    form = AnonymiseForm(request.POST or None, initial={"user": person.pk})
    if request.method == "POST" and form.is_valid():
        result = privacy.anonymise(person, actor=request.user, reason=form.cleaned_data["reason"])
        if result.already:
            messages.info(request, _("This person was anonymised already."))
        else:
            messages.success(request, _("The person was anonymised; their requests are kept."))
        with scopes_disabled():
            membership = person.memberships.select_related("organisation").first()
        if membership is not None:
            return redirect("console:organisation", code=membership.organisation.code)
        return redirect("console:organisations")
    return render(
        request,
        "accounts/anonymise_confirm.html",
        {"form": form, "person": person, "already": privacy.is_anonymised(person)},
    )
