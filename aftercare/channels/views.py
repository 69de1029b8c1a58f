"""The Telegram webhook, the portal's "Messengers" page and the console's messenger page.

Rules live in ``channels.services`` and ``channels.intake``; these views only call them.
"""

from __future__ import annotations

import hmac
import json
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from aftercare.channels import intake, services
from aftercare.channels.models import ChannelKind, ChannelMessage
from aftercare.channels.telegram import TelegramAdapter
from aftercare.console.views import agent_required
from aftercare.ops.maintenance import MaintenanceError
from aftercare.tenancy.querysets import visible_organisations
from aftercare.tenancy.scoping import system_scope

log = logging.getLogger(__name__)
MAX_UPDATE_BYTES = 256 * 1024  # an update is a few KB; files are fetched separately


# -- the webhook --------------------------------------------------------------------------


@csrf_exempt
@never_cache
def telegram_webhook(request: HttpRequest, secret: str) -> HttpResponse:
    """Telegram POSTs each update here. The secret is in the address and, as Telegram
    sends it, in ``X-Telegram-Bot-Api-Secret-Token``; both must match."""
    adapter = TelegramAdapter()
    expected = settings.AFTERCARE_TELEGRAM_WEBHOOK_SECRET
    if not adapter.enabled or not expected:
        raise Http404("Telegram is not configured")
    header = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not (
        hmac.compare_digest(secret.encode(), expected.encode())
        and hmac.compare_digest(header.encode(), expected.encode())
    ):
        return JsonResponse({"ok": False, "error": "forbidden"}, status=403)
    if request.method != "POST":
        return JsonResponse({"ok": False, "error": "method not allowed"}, status=405)
    length = request.headers.get("Content-Length") or "0"
    if not length.isdigit() or int(length) > MAX_UPDATE_BYTES:
        return JsonResponse({"ok": False, "error": "too large"}, status=413)
    body = request.read(MAX_UPDATE_BYTES + 1)
    if len(body) > MAX_UPDATE_BYTES:
        return JsonResponse({"ok": False, "error": "too large"}, status=413)
    try:
        update = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"ok": False, "error": "not JSON"}, status=400)
    message = adapter.parse(update)
    if message is not None:
        try:
            intake.handle(adapter, message)
        except MaintenanceError:
            # Telegram delivers the update again later.
            return JsonResponse({"ok": False, "error": "maintenance"}, status=503)
    return JsonResponse({"ok": True})


# -- the portal ---------------------------------------------------------------------------


@login_required
@never_cache
def portal_page(request: HttpRequest) -> HttpResponse:
    """A customer's messenger links: make a code, see and unlink their own chats."""
    permset = request.permset
    if permset.is_agent:
        return redirect("channels:inbox")
    adapter = TelegramAdapter()
    organisations = services.customer_organisations(request.user)
    context: dict = {
        "enabled": adapter.enabled,
        "organisations": organisations,
        "minutes": services.CODE_MINUTES,
    }
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "code":
                if not adapter.enabled:
                    raise ValidationError(_("Messengers are not set up on this service desk."))
                chosen = None
                wanted = request.POST.get("organisation", "")
                if wanted:
                    chosen = next((o for o in organisations if str(o.pk) == wanted), None)
                    if chosen is None:
                        raise ValidationError(_("Choose one of your organisations."))
                code = services.issue_code(
                    user=request.user, channel=ChannelKind.TELEGRAM, organisation=chosen
                )
                context["code"] = code
                context["deep_link"] = adapter.link_hint(code)
            elif action == "unlink":
                link = (
                    services.visible_links(permset).filter(pk=request.POST.get("link") or 0).first()
                )
                if link is None:
                    raise ValidationError(_("No such linked chat."))
                services.unlink(link=link, actor=request.user)
                messages.success(request, _("The chat is no longer linked."))
                return redirect("channels_portal:messengers")
            else:
                raise ValidationError(_("Unknown action."))
        except (ValidationError, PermissionDenied) as exc:
            context["error"] = " ".join(getattr(exc, "messages", [str(exc)]))
            status = 400
    context["links"] = list(
        services.visible_links(permset).select_related("organisation").order_by("-linked_at")
    )
    return render(request, "channels/portal.html", context, status=status)


# -- the console --------------------------------------------------------------------------


@agent_required
def inbox(request: HttpRequest) -> HttpResponse:
    """Held messages from unknown chats (triage), recent messages and linked chats, as far
    as the agent may see them."""
    permset = request.permset
    may_triage = services.may_triage(permset)
    show = request.GET.get("show", "triage" if may_triage else "links")
    status = 200
    error = ""
    with system_scope():
        if request.method == "POST":
            try:
                response = _console_action(request)
                if response is not None:
                    return response
            except (services.LinkError, ValidationError) as exc:
                error = str(getattr(exc, "message", None) or " ".join(exc.messages))
                status = 400
        context = {
            "show": show,
            "may_triage": may_triage,
            "error": error,
            "nav": "channels",
            "organisations": visible_organisations(permset).filter(is_active=True).order_by("name")
            if may_triage
            else [],
        }
        if show == "outgoing":
            rows = (
                services.visible_deliveries(permset)
                .select_related("ticket", "link__user")
                .order_by("-created_at", "-pk")
            )
        elif show == "links":
            rows = (
                services.visible_links(permset)
                .select_related("user", "organisation")
                .order_by("-linked_at", "-pk")
            )
        else:
            rows = services.visible_messages(permset).select_related("ticket", "link__user")
            if show == "triage":
                if not may_triage:
                    raise PermissionDenied(_("You may not handle messenger triage."))
                rows = rows.filter(outcome=ChannelMessage.Outcome.TRIAGE)
            rows = rows.order_by("-received_at", "-pk")
        context["page"] = Paginator(rows, 50).get_page(request.GET.get("page"))
        if may_triage:
            context["triage_count"] = ChannelMessage.objects.filter(
                outcome=ChannelMessage.Outcome.TRIAGE
            ).count()
        return render(request, "channels/inbox.html", context, status=status)


def _console_action(request: HttpRequest) -> HttpResponse | None:
    permset = request.permset
    action = request.POST.get("action", "")
    if action == "unlink":
        link = services.visible_links(permset).filter(pk=request.POST.get("link") or 0).first()
        if link is None:
            raise Http404("No such linked chat")
        services.unlink(link=link, actor=request.user)
        messages.success(request, _("The chat is no longer linked."))
        return redirect(request.get_full_path())
    if action not in ("link", "discard"):
        raise ValidationError(_("Unknown action."))
    if not services.may_triage(permset):
        raise PermissionDenied(_("You may not handle messenger triage."))
    row = (
        services.visible_messages(permset)
        .filter(pk=request.POST.get("message") or 0, outcome=ChannelMessage.Outcome.TRIAGE)
        .first()
    )
    if row is None:
        raise services.LinkError(_("This message was already handled (or does not exist)."))
    if action == "discard":
        services.discard(row=row, actor=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, _("Message discarded."))
        return redirect(request.get_full_path())
    organisation = (
        visible_organisations(permset).filter(pk=request.POST.get("organisation") or 0).first()
    )
    if organisation is None:
        raise services.LinkError(_("Choose an organisation."))
    link = services.link_held(
        row=row, actor=request.user, organisation=organisation, who=request.POST.get("contact", "")
    )
    done = intake.release_held(intake_adapter(link.channel), link.pk, ChannelMessage.Outcome.TRIAGE)
    ChannelMessage.objects.filter(
        channel=link.channel, chat_id=link.chat_id, resolved_by=None
    ).exclude(resolved_at=None).update(resolved_by=request.user)
    messages.success(
        request,
        _("The chat is linked to %(name)s; %(count)d held message(s) were processed.")
        % {"name": link.user.display_name, "count": done},
    )
    return redirect(request.get_full_path())


def intake_adapter(channel: str):
    from aftercare.channels.base import adapter_for

    return adapter_for(channel)
