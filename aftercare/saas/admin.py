from django.contrib import admin

from aftercare.saas.models import Migration, MigrationEvent, Offer


@admin.register(Migration)
class MigrationAdmin(admin.ModelAdmin):
    list_display = ["reference", "company", "organisation", "state", "created_at"]
    list_filter = ["state"]
    search_fields = ["company", "email", "contact_name"]
    readonly_fields = ["state"]

    def get_queryset(self, request):
        return Migration.objects.with_scopes_disabled().select_related("organisation")


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "currency", "sent_at", "decided_at"]
    list_filter = ["status"]
    readonly_fields = ["status", "pdf", "decided_at", "decided_by", "decided_via"]

    def get_queryset(self, request):
        return Offer.objects.with_scopes_disabled().select_related("migration")


@admin.register(MigrationEvent)
class MigrationEventAdmin(admin.ModelAdmin):
    list_display = ["migration", "action", "old", "new", "actor_label", "created_at"]

    def get_queryset(self, request):
        return MigrationEvent.objects.with_scopes_disabled().select_related("migration")

    def has_change_permission(self, request, obj=None) -> bool:
        return False
