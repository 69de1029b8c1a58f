from django.contrib import admin
from django_scopes import scopes_disabled

from aftercare.tenancy import models


class UnscopedAdmin(admin.ModelAdmin):
    """The admin site is for administrators, who see every organisation."""

    def get_queryset(self, request):
        with scopes_disabled():
            return self.model.objects.with_scopes_disabled().all()


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0

    def get_queryset(self, request):
        return self.model.objects.with_scopes_disabled().all()


@admin.register(models.Organisation)
class OrganisationAdmin(UnscopedAdmin):
    list_display = ("name", "code", "country", "time_zone", "is_active")
    search_fields = ("name", "code")


@admin.register(models.Contract)
class ContractAdmin(UnscopedAdmin):
    list_display = (
        "number",
        "organisation",
        "starts_on",
        "ends_on",
        "support_hours",
        "availability_target",
    )


@admin.register(models.System)
class SystemAdmin(UnscopedAdmin):
    list_display = ("name", "organisation", "product", "version")


@admin.register(models.ContactPerson)
class ContactPersonAdmin(UnscopedAdmin):
    list_display = ("name", "organisation", "role", "email", "left_on", "replaced_by")
    list_filter = ("left_on",)


@admin.register(models.Membership)
class MembershipAdmin(UnscopedAdmin):
    list_display = ("user", "organisation", "role")


admin.site.register(models.AgentRestriction)
