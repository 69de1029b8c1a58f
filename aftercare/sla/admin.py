"""Administrators configure calendars and SLA plans here (plans apply via contracts)."""

from django.contrib import admin

from aftercare.sla import models


class CalendarExceptionInline(admin.TabularInline):
    model = models.CalendarException
    extra = 1


@admin.register(models.Calendar)
class CalendarAdmin(admin.ModelAdmin):
    list_display = ("name", "time_zone", "country", "subdivision", "around_the_clock")
    inlines = [CalendarExceptionInline]


class SlaTargetInline(admin.TabularInline):
    model = models.SlaTarget
    extra = 0


@admin.register(models.SlaPlan)
class SlaPlanAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "calendar",
        "is_default",
        "first_response",
        "warn_percent",
        "escalate_to_l2",
    )
    inlines = [SlaTargetInline]

    def save_related(self, request, form, formsets, change):
        """Targets changed: recompute the deadlines of the plan's open requests."""
        super().save_related(request, form, formsets, change)
        from aftercare.desk.models import Ticket
        from aftercare.sla import services

        open_tickets = Ticket.objects.open().filter(sla_clocks__plan=form.instance).distinct()
        for ticket in open_tickets.select_related("organisation", "contract__sla_plan"):
            services.recompute(ticket)
