from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from aftercare.accounts import twofactor
from aftercare.accounts.models import SecurityEvent, TwoFactorDevice, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Aftercare", {"fields": ("phone", "language", "time_zone")}),
    )
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "language")
    actions = ["reset_two_factor"]

    @admin.action(description=_("Reset two-factor authentication"))
    def reset_two_factor(self, request, queryset):
        """For someone who lost their phone and recovery codes: they sign in with the
        password alone, and set 2FA up again (enforced if their role requires it)."""
        done = sum(
            twofactor.disable(user, actor=request.user, reason="admin reset") for user in queryset
        )
        self.message_user(
            request,
            ngettext(
                "Two-factor authentication was reset for %(n)d user.",
                "Two-factor authentication was reset for %(n)d users.",
                done,
            )
            % {"n": done},
            messages.SUCCESS,
        )


@admin.register(TwoFactorDevice)
class TwoFactorDeviceAdmin(admin.ModelAdmin):
    list_display = ("user", "confirmed_at", "last_used_at")
    fields = ("user", "created_at", "confirmed_at", "last_used_at")
    readonly_fields = fields
    search_fields = ("user__username", "user__email")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "subject", "actor")
    list_filter = ("action",)
    readonly_fields = ("created_at", "action", "subject", "actor", "reason")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
