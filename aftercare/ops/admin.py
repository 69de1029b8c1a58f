from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from aftercare.ops import maintenance
from aftercare.ops.models import MaintenanceFlag


@admin.register(MaintenanceFlag)
class MaintenanceFlagAdmin(admin.ModelAdmin):
    """One row: administrators switch read-only maintenance mode on and off here."""

    list_display = ("__str__", "message", "changed_at", "changed_by")
    fields = ("is_on", "message", "changed_at", "changed_by")
    readonly_fields = ("changed_at", "changed_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        MaintenanceFlag.objects.get_or_create(pk=1)
        return super().changelist_view(request, extra_context)

    def save_model(self, request: HttpRequest, obj: MaintenanceFlag, form, change) -> None:
        obj.changed_at = timezone.now()
        obj.changed_by = request.user.get_username()
        super().save_model(request, obj, form, change)
        maintenance.forget()
