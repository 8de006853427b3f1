from django.urls import path

from reflectlab.annotations import workspace

app_name = "annotations"
urlpatterns = [
    path("traces/<int:trace_id>/annotation/save", workspace.annotation_save_view, name="save"),
    path(
        "traces/<int:trace_id>/annotation/submit", workspace.annotation_submit_view, name="submit"
    ),
    path("traces/<int:trace_id>/steps/edit", workspace.step_edit_view, name="steps"),
    path("traces/<int:trace_id>/steps/", workspace.step_range_view, name="step-range"),
    path(
        "traces/<int:trace_id>/annotation/regenerate",
        workspace.annotation_regenerate_view,
        name="regenerate",
    ),
]
