from django.contrib import admin

from reflectlab.annotations.models import Annotation


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "trace", "annotator", "state", "first_error_step", "verdict", "version"]
    list_filter = ["state", "verdict"]
    raw_id_fields = ["project", "trace", "annotator", "branch"]
