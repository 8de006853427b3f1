from django.contrib import admin

from reflectlab.prompts.models import ImportJob, Prompt


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["external_id", "project", "created_at"]
    list_filter = ["project"]
    search_fields = ["external_id", "text"]
    raw_id_fields = ["project"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "kind", "state", "rows_written", "rows_rejected", "created_at"]
    list_filter = ["kind", "state"]
    raw_id_fields = ["project", "created_by"]
