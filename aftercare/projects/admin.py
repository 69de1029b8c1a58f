from django.contrib import admin

from aftercare.projects.models import (
    PlanTemplate,
    Project,
    TemplateCriterion,
    TemplateStage,
    TemplateTask,
)
from aftercare.tenancy.admin import UnscopedAdmin


class TemplateTaskInline(admin.TabularInline):
    model = TemplateTask
    extra = 0


class TemplateCriterionInline(admin.TabularInline):
    model = TemplateCriterion
    extra = 0


@admin.register(PlanTemplate)
class PlanTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "is_default"]


@admin.register(TemplateStage)
class TemplateStageAdmin(admin.ModelAdmin):
    list_display = ["template", "position", "title", "kind"]
    inlines = [TemplateTaskInline, TemplateCriterionInline]


@admin.register(Project)
class ProjectAdmin(UnscopedAdmin):
    list_display = ["name", "organisation", "go_live_on", "status"]
    list_filter = ["status"]
