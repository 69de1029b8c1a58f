from django.contrib import admin

from aftercare.desk.models import CannedAnswer


@admin.register(CannedAnswer)
class CannedAnswerAdmin(admin.ModelAdmin):
    list_display = ("title", "language", "shared", "owner")
    list_filter = ("shared", "language")
    search_fields = ("title", "body")
    raw_id_fields = ("owner",)
