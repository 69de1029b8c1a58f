"""The bell's page (staff in the console layout, customers in the portal's), mark read,
and the per-person choice of which notifications also come by mail."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from aftercare.notifications import services
from aftercare.notifications.kinds import CUSTOMER_CHOICES, STAFF_CHOICES
from aftercare.notifications.models import MailChoice, Notification
from aftercare.notifications.render import describe

PAGE = 50


def _base(request: HttpRequest) -> str:
    return "console/base.html" if request.permset.is_agent else "portal/base.html"


def _ticket_url(request: HttpRequest, n: Notification) -> str:
    if n.ticket is None:
        # A notice about something else (a SaaS migration) names its page; only a path
        # on this site is followed, and that page checks who may see it.
        path = str((n.params or {}).get("path", ""))
        if path.startswith("/") and not path.startswith("//") and "\\" not in path:
            return path
        return reverse("home")
    name = "console:ticket" if request.permset.is_agent else "portal:detail"
    return reverse(name, args=[n.ticket.number])


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """The signed-in person's notifications, newest first; POST marks all read."""
    mine = services.for_user(request.user)
    if request.method == "POST":
        count = services.mark_read(request.user, mine.values_list("pk", flat=True))
        from aftercare.sla.models import Notification as SlaNotification

        SlaNotification.objects.filter(user=request.user, read_at__isnull=True).update(
            read_at=Notification._meta.get_field("created_at").default()
        )
        if count:
            messages.success(request, _("All notifications marked as read."))
        return redirect(request.path)
    show = request.GET.get("show", "all")
    rows = mine.select_related("ticket", "actor").order_by("-pk")
    if show == "unread":
        rows = rows.filter(read_at__isnull=True)
    before = request.GET.get("before", "")
    if before.isdigit():  # keyset: the next page starts below the last id shown
        rows = rows.filter(pk__lt=int(before))
    rows = list(rows[: PAGE + 1])
    older = rows[PAGE - 1].pk if len(rows) > PAGE else None
    rows = rows[:PAGE]
    for n in rows:
        n.text = describe(n)
        n.url = reverse("notifications:open", args=[n.pk])
    return render(
        request,
        "notifications/inbox.html",
        {
            "base_template": _base(request),
            "rows": rows,
            "show": show,
            "older": older,
            "unread": services.unread_count(request.user),
            "nav": "notifications",
        },
    )


@login_required
def open_one(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Follow a notification: mark it read and go to its request."""
    n = services.for_user(request.user).select_related("ticket").filter(pk=notification_id).first()
    if n is None:
        raise Http404
    # Opening the request is reading what there was to know about it.
    if n.ticket is not None:
        services.mark_read(request.user, ticket=n.ticket)
    services.mark_read(request.user, [n.pk])
    return redirect(_ticket_url(request, n))


@login_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    """Mark some notifications (``ids``) or those of one request (``ticket``) read."""
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    services.mark_read(request.user, ids)
    back = request.POST.get("next") or reverse("notifications:inbox")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}):
        back = reverse("notifications:inbox")
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204)
    return redirect(back)


@login_required
def bell(request: HttpRequest) -> HttpResponse:
    """The unread count as a fragment (the bell refreshes itself with htmx)."""
    return render(
        request,
        "notifications/_bell.html",
        {"bell_unread": services.unread_count(request.user), "bell_cap": services.BELL_CAP},
    )


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    """Which notifications also come by e-mail (every one is always in the bell)."""
    if not request.permset.is_authenticated:
        raise PermissionDenied
    choices = STAFF_CHOICES if request.permset.is_agent else CUSTOMER_CHOICES
    off = set(
        MailChoice.objects.filter(user=request.user, by_mail=False).values_list("kind", flat=True)
    )
    if request.method == "POST":
        wanted = set(request.POST.getlist("mail"))
        services.set_mail_choices(request.user, {k: k in wanted for k, _label in choices})
        messages.success(request, _("Your notification settings were saved."))
        return redirect("notifications:settings")
    return render(
        request,
        "notifications/settings.html",
        {
            "base_template": _base(request),
            "rows": [(k, label, k not in off) for k, label in choices],
            "optional_mail": request.user.optional_mail,
            "nav": "notifications",
        },
    )
