from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from aftercare.accounts import emailchange, twofactor
from aftercare.accounts.forms import (
    EmailChangeForm,
    ProfileForm,
    ThrottledLoginForm,
    ThrottledPasswordChangeForm,
    ThrottledPasswordResetForm,
)
from aftercare.accounts.models import SecurityEvent

log = logging.getLogger(__name__)


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = ThrottledLoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        """With 2FA on, the password only opens the code step: no session yet."""
        user = form.get_user()
        if twofactor.active_device(user) is not None:
            twofactor.start_pending(
                self.request, user, backend=user.backend, next_url=self.get_success_url()
            )
            return redirect("accounts:2fa-verify")
        return super().form_valid(form)


def admin_login(request: HttpRequest, extra_context=None) -> HttpResponse:
    """Replaces ``admin.site.login``: the admin is entered through the one throttled
    sign-in page (with its 2FA step), never through Django's own unthrottled form."""
    from django.contrib import admin

    nxt = request.GET.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(nxt, {request.get_host()}, request.is_secure()):
        nxt = reverse("admin:index")
    if request.user.is_authenticated:
        if admin.site.has_permission(request):
            return HttpResponseRedirect(nxt)
        # Signed in but not allowed in: sending them to the sign-in page would bounce
        # straight back here (it redirects signed-in people to ``next``).
        messages.error(request, _("Your account may not use the administration site."))
        return redirect("home")
    return redirect_to_login(nxt, reverse("accounts:login"))


def _profile_page(request: HttpRequest, form=None, email_form=None, status=200) -> HttpResponse:
    active = twofactor.active_device(request.user) is not None
    return render(
        request,
        "accounts/profile.html",
        {
            "form": form or ProfileForm(instance=request.user),
            "email_form": email_form or EmailChangeForm(request.user, request),
            "two_factor_active": active,
        },
        status=status,
    )


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        translation.activate(form.instance.language)
        messages.success(request, _("Your profile was saved."))
        response = redirect("accounts:profile")
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, form.instance.language)
        return response
    return _profile_page(request, form=form)


@login_required
@require_POST
def email_change(request: HttpRequest) -> HttpResponse:
    """Step one: the password and the new address; a link goes to the new address."""
    form = EmailChangeForm(request.user, request, request.POST)
    if not form.is_valid():
        return _profile_page(request, email_form=form, status=400)
    new_email = form.cleaned_data["new_email"]
    try:
        emailchange.send_confirmation(request.user, new_email)
    except (OSError, smtplib.SMTPException):
        log.exception("could not send the e-mail change confirmation")
        messages.error(request, _("The confirmation could not be sent. Please try later."))
        return redirect("accounts:profile")
    messages.success(
        request,
        _("We sent a link to %(email)s. Your address changes when you open it while signed in.")
        % {"email": new_email},
    )
    return redirect("accounts:profile")


REFUSALS = {
    "expired": gettext_lazy("This link has expired. Please ask for a new one in your profile."),
    "taken": gettext_lazy("Another account already uses this e-mail address."),
}


@never_cache
@login_required
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Step two, from the mail: shown to the signed-in user, applied when confirmed."""
    try:
        if request.method != "POST":
            new_email = emailchange.check(request.user, token)
            return render(request, "accounts/email_confirm.html", {"new_email": new_email})
        new_email = emailchange.confirm(request.user, token)
    except emailchange.LinkRefused as refused:
        if refused.reason in ("invalid", "other_user"):
            # Forged, or someone else's link: as for any address that names nothing.
            return render(request, "accounts/email_confirm.html", {"invalid": True}, status=404)
        message = REFUSALS.get(refused.reason) or _("This link is not valid (or was used already).")
        messages.error(request, str(message))
        return redirect("accounts:profile")
    messages.success(request, _("Your e-mail address is now %(email)s.") % {"email": new_email})
    return redirect("accounts:profile")


@method_decorator(never_cache, name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    form_class = ThrottledPasswordChangeForm
    success_url = reverse_lazy("accounts:profile")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        response = super().form_valid(form)  # keeps this session signed in
        SecurityEvent.objects.create(
            action="accounts.password.changed", subject=self.request.user, actor=self.request.user
        )
        messages.success(self.request, _("Your password was changed."))
        return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    form_class = ThrottledPasswordResetForm
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-done")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        self.extra_email_context = {
            "base_url": settings.AFTERCARE_BASE_URL,
            "hours": max(1, settings.PASSWORD_RESET_TIMEOUT // 3600),
        }
        try:
            return super().form_valid(form)
        except (OSError, smtplib.SMTPException):
            # The same answer as always: whether a mail was due must not show.
            log.exception("could not send a password reset mail")
            return HttpResponseRedirect(self.get_success_url())


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")

    def dispatch(self, *args, **kwargs):
        response = super().dispatch(*args, **kwargs)
        if not self.validlink and response.status_code == 200:
            response.status_code = 404  # the page explains; the status says "no such link"
        return response

    def form_valid(self, form):
        response = super().form_valid(form)
        SecurityEvent.objects.create(
            action="accounts.password.reset", subject=form.user, actor=form.user
        )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the interface language; for a signed-in user, remember it on the profile."""
    code = request.POST.get("language", "")
    if code not in dict(settings.LANGUAGES):
        messages.error(request, _("Unknown language."))
        code = settings.LANGUAGE_CODE
    nxt = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(nxt, {request.get_host()}, request.is_secure()):
        nxt = "/"
    if request.user.is_authenticated and request.user.language != code:
        request.user.language = code
        request.user.save(update_fields=["language"])
    response = HttpResponseRedirect(nxt)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, code, samesite="Lax")
    return response
