from django.contrib import admin

from aftercare.imports.models import ImportedRecord
from aftercare.tenancy.admin import UnscopedAdmin


@admin.register(ImportedRecord)
class ImportedRecordAdmin(UnscopedAdmin):
    """Mostly to correct a member mapping: point a Trello member's record at another user."""

    list_display = ("source", "kind", "external_id", "name", "organisation", "ticket", "user")
    list_filter = ("source", "kind")
    search_fields = ("external_id", "name")
    raw_id_fields = ("organisation", "ticket", "message", "user")
    readonly_fields = ("content_hash", "snapshot", "created_at", "updated_at")
