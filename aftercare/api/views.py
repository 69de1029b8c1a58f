"""Pages of the API app: the signed-in user's tokens, and the API documentation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja.openapi.docs import Swagger

from aftercare.api import tokens
from aftercare.api.api import api
from aftercare.api.forms import TokenForm
from aftercare.api.models import ApiToken


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    """List the user's tokens and create one; a new token's secret is shown only in the
    response to the POST that created it, and is stored nowhere but as a hash."""
    form = TokenForm(request.POST or None)
    secret = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            token, secret = tokens.issue(
                user=request.user,
                name=form.cleaned_data["name"],
                expires_at=form.expires_at(),
            )
            messages.success(
                request,
                _("Token “%(name)s” created. Copy it now: it will not be shown again.")
                % {"name": token.name},
            )
            form = TokenForm()
            status = 201
        else:
            status = 400
    response = render(
        request,
        "api/tokens.html",
        {
            "form": form,
            "tokens": ApiToken.objects.filter(user=request.user).order_by("-created_at"),
            "secret": secret,
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    # Look up first: someone else's token is "not found" whatever the method.
    token = ApiToken.objects.filter(user=request.user, pk=token_id).first()
    if token is None:
        raise Http404("No such token")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    tokens.revoke(token=token)
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("api:token-list")


class _LocalSwagger(Swagger):
    """Ninja's Swagger UI page with the assets ninja ships (no CDN), pointed at v1."""

    def get_openapi_url(self, api_, path_params) -> str:
        return reverse("api:v1:openapi-json")


# No validator badge: Swagger UI would send the schema to an outside validator.
_docs = _LocalSwagger(settings={"persistAuthorization": True, "validatorUrl": None})


def docs(request: HttpRequest) -> HttpResponse:
    """Interactive documentation; public like the schema it reads (it holds no data)."""
    return _docs.render_page(request, api)
