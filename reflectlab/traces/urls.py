from django.urls import path

from reflectlab.annotations import workspace
from reflectlab.traces import views

# The trace page is the annotation workspace (see ``annotations/workspace.py``);
# it keeps its place and names here, where the rest of the site links to it.
app_name = "traces"
urlpatterns = [
    path("projects/<int:project_id>/traces/", views.trace_list, name="list"),
    path("projects/<int:project_id>/traces/bulk/pin", views.bulk_pin, name="bulk-pin"),
    path("projects/<int:project_id>/traces/bulk/queue", views.bulk_queue, name="bulk-queue"),
    path("projects/<int:project_id>/traces/bulk/export", views.bulk_export, name="bulk-export"),
    path("traces/<int:trace_id>/", workspace.trace_detail, name="detail"),
    path(
        "traces/<int:trace_id>/branches/<int:branch_id>/",
        workspace.branch_detail,
        name="branch",
    ),
]
