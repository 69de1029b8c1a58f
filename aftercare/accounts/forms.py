from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from aftercare.accounts import throttle
from aftercare.accounts.models import User, email_taken
from aftercare.accounts.network import client_address

__all__ = [
    "EmailChangeForm",
    "ProfileForm",
    "ThrottledLoginForm",
    "ThrottledPasswordChangeForm",
    "ThrottledPasswordResetForm",
    "client_address",
]


def _wait_params() -> dict:
    return {"minutes": max(1, settings.AFTERCARE_LOGIN_LOCKOUT_SECONDS // 60)}


LOCKED_MESSAGE = _("Too many failed attempts. Please wait %(minutes)s minutes and try again.")
TOO_MANY_REQUESTS = _("Too many requests. Please wait %(minutes)s minutes and try again.")


class ThrottledLoginForm(AuthenticationForm):
    username = forms.CharField(
        label=_("User name or e-mail"),
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _(
            "Too many failed sign-in attempts. Please wait %(minutes)s minutes and try again."
        ),
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request)
        if throttle.is_locked(username, address):
            raise forms.ValidationError(
                self.error_messages["locked"], code="locked", params=_wait_params()
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.record_failure(username, address)
            raise
        throttle.reset(username, address)
        return cleaned


class ProfileForm(forms.ModelForm):
    """The profile's own fields. The e-mail address is not among them: changing it needs
    the password and a confirmation from the new address (``EmailChangeForm``)."""

    class Meta:
        model = User
        fields = [
            "first_name",
            "last_name",
            "phone",
            "language",
            "time_zone",
            "optional_mail",
        ]


def _check_password(form: forms.Form, user: User, request, field: str) -> None:
    """The signed-in user's password, counted like a sign-in attempt."""
    address = client_address(request)
    if throttle.user_is_locked(user, address):
        raise forms.ValidationError(LOCKED_MESSAGE, code="locked", params=_wait_params())
    if not user.check_password(form.cleaned_data.get(field) or ""):
        throttle.record_user_failure(user, address)
        raise forms.ValidationError(
            {field: _("Your password was entered incorrectly.")}, code="password_incorrect"
        )
    throttle.reset_user(user, address)


class EmailChangeForm(forms.Form):
    new_email = forms.EmailField(
        label=_("New e-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user: User, request, *args, **kwargs) -> None:
        self.user = user
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_new_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["new_email"].strip())
        if email.lower() == (self.user.email or "").lower():
            raise forms.ValidationError(_("This is your current address."), code="same")
        return email

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        _check_password(self, self.user, self.request, "password")
        if not throttle.request_allowed(
            "email-change", str(self.user.pk), client_address(self.request)
        ):
            raise forms.ValidationError(TOO_MANY_REQUESTS, code="throttled", params=_wait_params())
        if email_taken(cleaned["new_email"], exclude=self.user):
            raise forms.ValidationError(
                {"new_email": _("Another account already uses this e-mail address.")},
                code="email_taken",
            )
        return cleaned


class ThrottledPasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's form; the old password is counted like a sign-in attempt."""

    def __init__(self, user, *args, request=None, **kwargs) -> None:
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self) -> str:
        address = client_address(self.request)
        if throttle.user_is_locked(self.user, address):
            raise forms.ValidationError(LOCKED_MESSAGE, code="locked", params=_wait_params())
        try:
            old = super().clean_old_password()
        except forms.ValidationError:
            throttle.record_user_failure(self.user, address)
            raise
        throttle.reset_user(self.user, address)
        return old


class ThrottledPasswordResetForm(auth_forms.PasswordResetForm):
    """Django's form, throttled per typed address and per client address.

    The answer is the same whether an account exists or not; the throttle counts the
    typed address, not the account, so it reveals nothing either. The mail goes out in
    the account's language, with links on ``AFTERCARE_BASE_URL`` (never the Host header).
    """

    def __init__(self, *args, request=None, **kwargs) -> None:
        self.request = request
        super().__init__(*args, **kwargs)
        self.fields["email"].label = _("E-mail")

    def clean(self):
        cleaned = super().clean()
        email = cleaned.get("email")
        if email and not throttle.request_allowed(
            "password-reset", email, client_address(self.request)
        ):
            raise forms.ValidationError(TOO_MANY_REQUESTS, code="throttled", params=_wait_params())
        return cleaned

    def send_mail(self, subject_template_name, email_template_name, context, *args, **kwargs):
        user = context.get("user")
        language = getattr(user, "language", "") or settings.LANGUAGE_CODE
        with translation.override(language):
            super().send_mail(subject_template_name, email_template_name, context, *args, **kwargs)
