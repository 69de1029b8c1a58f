"""The public quote request form (no sign-in): a lead for a SaaS migration."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from aftercare.accounts.network import client_address
from aftercare.saas import services, spam
from aftercare.saas.forms import QuoteForm

log = logging.getLogger(__name__)


@never_cache
def quote(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        form = QuoteForm(initial={"token": spam.issue_token()})
        return render(request, "saas/quote.html", {"form": form})
    address = client_address(request)
    if spam.rate_limited(address):
        return render(
            request,
            "saas/quote.html",
            {
                "form": QuoteForm(request.POST),
                "refused": _("Too many requests from your network. Please try again later."),
            },
            status=429,
        )
    form = QuoteForm(request.POST)
    if request.POST.get(spam.HONEYPOT):
        log.info("quote form: honeypot filled from %s", address)
        return redirect("quote:thanks")
    reason = spam.check_token(request.POST.get("token", ""))
    if reason == "expired":
        # A person who left the page open for a day: keep what they typed, new token.
        data = request.POST.copy()
        data["token"] = spam.issue_token()
        form = QuoteForm(data)
        form.is_valid()
        form.add_error(None, _("The form had expired. Please check your data and send it again."))
        return render(request, "saas/quote.html", {"form": form}, status=400)
    if reason:
        log.info("quote form: %s token from %s", reason, address)
        return redirect("quote:thanks")  # the same answer a person gets; nothing stored
    if not form.is_valid():
        data = request.POST.copy()
        data["token"] = spam.issue_token()  # this one is used now
        form = QuoteForm(data)
        form.is_valid()
        return render(request, "saas/quote.html", {"form": form}, status=400)
    services.create_lead(**form.cleaned_data, language=get_language() or "en")
    return redirect("quote:thanks")


def thanks(request: HttpRequest) -> HttpResponse:
    return render(request, "saas/quote_thanks.html")
