from django import forms
from django.contrib import admin
from django_scopes import scopes_disabled

from aftercare.mail.models import AddressStatus, InboundMessage, Mailbox, OutboundMail

with scopes_disabled():  # the organisation choices are built once, for every customer

    class MailboxForm(forms.ModelForm):
        password = forms.CharField(
            widget=forms.PasswordInput(render_value=False),
            required=False,
            help_text="Leave empty to keep the stored password.",
        )

        class Meta:
            model = Mailbox
            fields = [
                "name",
                "address",
                "host",
                "port",
                "security",
                "username",
                "password",
                "folder",
                "processed_folder",
                "default_organisation",
                "register_unknown_senders",
                "default_category",
                "improvement_address",
                "batch_size",
                "is_active",
            ]

        def clean_password(self):
            value = self.cleaned_data.get("password")
            return value or (self.instance.password if self.instance.pk else "")


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    form = MailboxForm
    list_display = (
        "name",
        "address",
        "host",
        "folder",
        "is_active",
        "last_success_at",
        "last_error",
    )
    readonly_fields = ("last_fetch_at", "last_success_at", "last_error")


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ("received_at", "sender", "subject", "outcome", "reason", "ticket")
    list_filter = ("outcome", "reason", "mailbox")
    search_fields = ("sender", "subject", "message_id")
    readonly_fields = [f.name for f in InboundMessage._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(OutboundMail)
class OutboundMailAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "to_address", "state", "attempts", "ticket")
    list_filter = ("state", "kind")
    search_fields = ("to_address", "subject", "message_id")
    readonly_fields = [f.name for f in OutboundMail._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(AddressStatus)
class AddressStatusAdmin(admin.ModelAdmin):
    list_display = ("address", "bounce_count", "bounced_at", "suppressed")
    list_filter = ("suppressed",)
    search_fields = ("address",)
