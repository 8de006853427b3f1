from django.contrib import admin

from reflectlab.providers.models import ModelConfig


@admin.register(ModelConfig)
class ModelConfigAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "provider", "model", "base_url", "max_concurrency"]
    list_filter = ["provider"]
    raw_id_fields = ["project"]
