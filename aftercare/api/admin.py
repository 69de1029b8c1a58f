from django.contrib import admin

from aftercare.api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Read-only except revocation: secrets exist only as hashes, tokens are made by
    their owners on the token page."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "expires_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username", "user__email")
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at", "expires_at")
    fields = (*readonly_fields, "revoked_at")

    def has_add_permission(self, request) -> bool:
        return False
