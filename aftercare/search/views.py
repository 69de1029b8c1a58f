"""The search pages: one for staff in the console, one for customers in the portal.

Both call ``query.search`` with the reader's permission set; what differs is only the
page around the results and where a hit links to.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from aftercare.search.query import LIMIT, PAGE_SIZE, search


def _render(request: HttpRequest, surface: str) -> HttpResponse:
    text = request.GET.get("q", "")
    try:
        page = int(request.GET.get("page") or 1)
    except ValueError:
        page = 1
    results = search(request.permset, text, page=page, size=PAGE_SIZE)
    return render(
        request,
        "search/results.html",
        {
            "base_template": f"{surface}/base.html",
            "surface": surface,
            "results": results,
            "limit": LIMIT,
            "offset": (results.page - 1) * PAGE_SIZE,
            "nav": "search",
        },
    )


@login_required
def console_search(request: HttpRequest) -> HttpResponse:
    if not request.permset.is_agent:
        raise PermissionDenied(_("The console is for the service desk's staff."))
    return _render(request, "console")


@login_required
def portal_search(request: HttpRequest) -> HttpResponse:
    if request.permset.is_agent:
        # Staff search in the console (internal notes included if they may read them).
        query = urlencode({"q": request.GET.get("q", "")})
        return redirect(f"{reverse('search:console')}?{query}")
    return _render(request, "portal")
