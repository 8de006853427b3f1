from django.contrib import admin

from reflectlab.runs.models import Run


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
