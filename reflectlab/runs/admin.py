from django.contrib import admin

from reflectlab.runs.models import EndpointSlot, Run, RunItem


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "project",
        "model_config",
        "state",
        "items_done",
        "items_failed",
        "items_total",
    ]
    list_filter = ["state"]
    raw_id_fields = ["project", "model_config", "created_by"]
    filter_horizontal = ["prompts"]


@admin.register(RunItem)
class RunItemAdmin(admin.ModelAdmin):
    list_display = ["id", "run", "prompt", "sample_index", "state", "attempts", "holder"]
    list_filter = ["state"]
    raw_id_fields = ["run", "prompt", "trace"]


@admin.register(EndpointSlot)
class EndpointSlotAdmin(admin.ModelAdmin):
    list_display = ["endpoint", "index", "holder", "lease_until"]
