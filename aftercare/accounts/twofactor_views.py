"""Pages for two-factor authentication: the code step of signing in, and the profile's
enrolment, recovery codes and switching off."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from aftercare.accounts import twofactor
from aftercare.accounts.forms import client_address


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "inputmode": "text"}
        ),
    )


class DisableForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code from your app"), max_length=32, required=False)
    password = forms.CharField(
        label=gettext_lazy("or your password"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


def _locked_message() -> str:
    return _("Too many wrong codes. Please wait %(minutes)s minutes and try again.") % {
        "minutes": max(1, settings.AFTERCARE_LOGIN_LOCKOUT_SECONDS // 60)
    }


def _safe_next(request: HttpRequest, url: str) -> str:
    if url and url_has_allowed_host_and_scheme(url, {request.get_host()}, request.is_secure()):
        return url
    return settings.LOGIN_REDIRECT_URL


@never_cache
def verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a code from the app or a recovery code."""
    found = twofactor.pending(request)
    if found is None:
        if request.user.is_authenticated:
            return redirect("home")
        messages.info(request, _("Please sign in again."))
        return redirect_to_login(request.get_full_path())
    user, data = found
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        address = client_address(request)
        device = twofactor.active_device(user)
        if twofactor.is_locked(user, address):
            form.add_error(None, _locked_message())
        elif device is None:
            # Switched off (or reset by an administrator) meanwhile: the password is enough.
            kind = "none"
        else:
            kind = twofactor.check(device, form.cleaned_data["code"])
            if kind is None:
                twofactor.record_failure(user, address)
                form.add_error("code", _("That code is not valid (or was used already)."))
        if not form.errors:
            twofactor.reset_failures(user, address)
            request.session.pop(twofactor.PENDING_KEY, None)
            login(request, user, backend=data.get("backend"))
            twofactor.mark_verified(request, user)
            if kind == "recovery":
                messages.warning(
                    request,
                    _("You signed in with a recovery code; %(left)s are left.")
                    % {"left": len(device.recovery_hashes)},
                )
            return redirect(_safe_next(request, data.get("next", "")))
    return render(request, "accounts/2fa_verify.html", {"form": form, "pending_user": user})


@never_cache
@login_required
def manage(request: HttpRequest) -> HttpResponse:
    """Set up, confirm, renew recovery codes for, or switch off one's own 2FA."""
    user = request.user
    device = twofactor.TwoFactorDevice.objects.filter(user=user).first()
    action = request.POST.get("action", "") if request.method == "POST" else ""
    address = client_address(request)
    context: dict = {"required": twofactor.is_required(request)}
    code_form = CodeForm(request.POST if action in ("confirm", "regenerate") else None)
    disable_form = DisableForm(request.POST if action == "disable" else None)

    if action and twofactor.is_locked(user, address):
        messages.error(request, _locked_message())
        return redirect("accounts:2fa")
    if action == "start":
        if device is None or not device.is_active:
            device = twofactor.start_enrolment(user)
        return redirect("accounts:2fa")
    if action == "confirm" and device is not None and not device.is_active:
        if code_form.is_valid():
            codes = twofactor.confirm_enrolment(device, code_form.cleaned_data["code"])
            if codes:
                twofactor.reset_failures(user, address)
                twofactor.mark_verified(request, user)
                messages.success(request, _("Two-factor authentication is on."))
                context.update(device=device, recovery_codes=codes)
                return render(request, "accounts/2fa_manage.html", context)
            twofactor.record_failure(user, address)
            code_form.add_error("code", _("That code is not valid. Check the time on your phone."))
    elif action == "regenerate" and device is not None and device.is_active:
        if code_form.is_valid():
            if twofactor.check(device, code_form.cleaned_data["code"], allow_recovery=False):
                codes = twofactor.new_recovery_codes(device)
                messages.success(request, _("New recovery codes; the old ones no longer work."))
                context.update(device=device, recovery_codes=codes)
                return render(request, "accounts/2fa_manage.html", context)
            twofactor.record_failure(user, address)
            code_form.add_error("code", _("That code is not valid (or was used already)."))
    elif action == "disable" and device is not None and device.is_active:
        if disable_form.is_valid():
            code = disable_form.cleaned_data["code"]
            password = disable_form.cleaned_data["password"]
            ok = (code and twofactor.check(device, code)) or (
                password and user.check_password(password)
            )
            if ok:
                twofactor.disable(user, actor=user)
                twofactor.reset_failures(user, address)
                request.session.pop(twofactor.STATE_KEY, None)
                messages.success(request, _("Two-factor authentication is off."))
                return redirect("accounts:2fa")
            twofactor.record_failure(user, address)
            disable_form.add_error(None, _("Enter a valid code or your password."))
    elif action:
        return redirect("accounts:2fa")

    if device is not None and not device.is_active:
        context.update(
            qr=twofactor.qr_svg_data_uri(device),
            secret=twofactor.grouped_secret(device.secret),
        )
    context.update(device=device, code_form=code_form, disable_form=disable_form)
    return render(request, "accounts/2fa_manage.html", context)
