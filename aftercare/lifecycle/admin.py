from django.contrib import admin
from django.db import models as django_models

from aftercare.lifecycle import models
from aftercare.tenancy.admin import UnscopedAdmin


class ReleaseInline(admin.TabularInline):
    model = models.Release
    extra = 0


@admin.register(models.Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)
    inlines = [ReleaseInline]


class ReleaseNoteInline(admin.TabularInline):
    model = models.ReleaseNote
    extra = 0


@admin.register(models.Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = ("product", "version", "service_pack", "released_on")
    list_filter = ("product",)
    inlines = [ReleaseNoteInline]


@admin.register(models.Environment)
class EnvironmentAdmin(UnscopedAdmin):
    list_display = ("name", "system", "organisation", "kind", "version", "hosting")
    list_filter = ("kind", "hosting")
    search_fields = ("name", "system__name", "organisation__name")
    formfield_overrides = {django_models.URLField: {"assume_scheme": "https"}}
    # The version moves with recorded deployments (services.deploy), not by hand here.
    readonly_fields = ("current_release",)
    exclude = ("organisation",)


@admin.register(models.Responsibility)
class ResponsibilityAdmin(UnscopedAdmin):
    list_display = ("contract", "area", "party", "party_name", "scope", "response_hours")
    list_filter = ("area", "party")
    exclude = ("organisation",)


@admin.register(models.MaintenanceWindow)
class MaintenanceWindowAdmin(UnscopedAdmin):
    list_display = ("__str__", "contract", "environment", "organisation")
    exclude = ("organisation",)
