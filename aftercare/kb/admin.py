from django.contrib import admin

from aftercare.kb import models


class ReadOnly(admin.ModelAdmin):
    """Articles are written in the console, through the services (checks and audit)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.Article)
class ArticleAdmin(ReadOnly):
    list_display = ("pk", "product", "kind", "visibility", "solved_count", "updated_at")
    list_filter = ("product", "kind", "visibility")
    exclude = ("source_ticket",)


@admin.register(models.ArticleEvent)
class ArticleEventAdmin(ReadOnly):
    list_display = ("article", "action", "actor", "created_at")
    list_filter = ("action",)
