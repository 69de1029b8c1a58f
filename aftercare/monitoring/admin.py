from django.contrib import admin

from aftercare.monitoring.models import FailedJob, WorkerHeartbeat


@admin.register(FailedJob)
class FailedJobAdmin(admin.ModelAdmin):
    list_display = ("failed_at", "task_name", "error", "request_id", "attempts", "resolved")
    list_filter = ("resolved", "task_name")
    search_fields = ("task_name", "request_id", "task_id", "error")
    readonly_fields = [f.name for f in FailedJob._meta.fields]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("worker", "seen_at")
    readonly_fields = ("worker", "seen_at")
