from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from aftercare.accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Aftercare", {"fields": ("phone", "language", "time_zone")}),
    )
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "language")
