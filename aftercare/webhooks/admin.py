"""Webhooks in the admin: subscriptions (test ping, re-enable, new secret) and the log.

The admin is the management surface for now, for administrators only. The target is
checked (scheme, credentials, port, every resolved address) when the form is saved.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_scopes import scopes_disabled

from aftercare.webhooks import delivery, events
from aftercare.webhooks.models import Delivery, EventName, Subscription, new_secret

with scopes_disabled():  # the organisation choices are built once, for every customer

    class SubscriptionForm(forms.ModelForm):
        target_url = forms.CharField(
            label=_("target URL"),
            max_length=500,
            help_text=_(
                "An https:// address on the public internet. Addresses on this network "
                "(loopback, private, link-local, cloud metadata) are refused."
            ),
            widget=forms.TextInput(attrs={"size": 80}),
        )
        events = forms.MultipleChoiceField(
            label=_("events"),
            choices=EventName.choices,
            widget=forms.CheckboxSelectMultiple,
            help_text=_("Internal notes are never sent."),
        )

        class Meta:
            model = Subscription
            fields = ["name", "organisation", "target_url", "events", "active"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = (
        "name",
        "scope",
        "target_url",
        "event_list",
        "active",
        "failure_count",
        "disabled_at",
    )
    list_filter = ("active", "organisation")
    search_fields = ("name", "target_url")
    readonly_fields = ("secret", "failure_count", "disabled_at", "disabled_reason", "created_at")
    actions = ["send_ping", "re_enable", "rotate_secret"]

    @admin.display(description=_("organisation"), ordering="organisation__name")
    def scope(self, obj: Subscription) -> str:
        return str(obj.organisation) if obj.organisation_id else str(_("All organisations"))

    @admin.display(description=_("events"))
    def event_list(self, obj: Subscription) -> str:
        return ", ".join(obj.events or [])

    @admin.action(description=_("Send a test ping"), permissions=["change"])
    def send_ping(self, request, queryset) -> None:
        rows = [events.ping(s) for s in queryset]
        self.message_user(
            request,
            ngettext(
                "Queued %(count)d test ping; its result appears in the delivery log.",
                "Queued %(count)d test pings; their results appear in the delivery log.",
                len(rows),
            )
            % {"count": len(rows)},
        )

    @admin.action(description=_("Re-enable (and reset the failure count)"), permissions=["change"])
    def re_enable(self, request, queryset) -> None:
        count = sum(delivery.re_enable(s) for s in queryset)
        self.message_user(
            request,
            ngettext(
                "Re-enabled %(count)d subscription.", "Re-enabled %(count)d subscriptions.", count
            )
            % {"count": count},
        )

    @admin.action(description=_("Generate a new signing secret"), permissions=["change"])
    def rotate_secret(self, request, queryset) -> None:
        for subscription in queryset:
            Subscription.objects.filter(pk=subscription.pk).update(secret=new_secret())
        self.message_user(
            request,
            _("New secrets generated; give them to the receivers."),
            messages.WARNING,
        )


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "event",
        "subscription",
        "ticket",
        "state",
        "attempts",
        "last_status_code",
        "duration_ms",
        "next_attempt_at",
    )
    list_filter = ("state", "event", "subscription", "organisation")
    list_select_related = ("subscription", "ticket")
    search_fields = ("uuid", "ticket__number", "error")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    fields = (
        "uuid",
        "subscription",
        "event",
        "organisation",
        "ticket",
        "state",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "duration_ms",
        "error",
        "response_excerpt",
        "created_at",
        "delivered_at",
        "pretty_payload",
    )
    readonly_fields = fields
    actions = ["retry"]

    @admin.display(description=_("payload"))
    def pretty_payload(self, obj: Delivery) -> str:
        try:
            text = json.dumps(json.loads(obj.payload), indent=2, ensure_ascii=False)
        except ValueError:
            text = obj.payload
        return format_html("<pre>{}</pre>", text)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("webhooks.change_delivery")

    @admin.action(description=_("Retry failed deliveries"), permissions=["retry"])
    def retry(self, request, queryset) -> None:
        count = delivery.retry(queryset.filter(state=Delivery.State.FAILED))
        self.message_user(
            request,
            ngettext(
                "Queued %(count)d delivery again.", "Queued %(count)d deliveries again.", count
            )
            % {"count": count},
        )
