from django.contrib import admin

from reflectlab.traces.models import Trace


@admin.register(Trace)
class TraceAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "model_name", "origin", "state", "final_correct", "n_steps"]
    list_filter = ["origin", "state", "final_correct", "has_reflection", "truncated"]
    search_fields = ["external_id", "model_name"]
    raw_id_fields = ["project", "prompt", "run", "parent"]
    readonly_fields = ["analysis", "analyzer_version"]
