from django.urls import path

from reflectlab.annotations import workspace
from reflectlab.bulk import views as bulk
from reflectlab.traces import views

# The trace page is the annotation workspace (see ``annotations/workspace.py``);
# it keeps its place and names here, where the rest of the site links to it.
# So do the list's bulk actions (``bulk/views.py``).
app_name = "traces"
urlpatterns = [
    path("projects/<int:project_id>/traces/", views.trace_list, name="list"),
    path("projects/<int:project_id>/traces/bulk/pin", bulk.bulk_pin, name="bulk-pin"),
    path("projects/<int:project_id>/traces/bulk/queue", bulk.bulk_queue, name="bulk-queue"),
    path("projects/<int:project_id>/traces/bulk/export", bulk.bulk_export, name="bulk-export"),
    path("traces/<int:trace_id>/", workspace.trace_detail, name="detail"),
    path(
        "traces/<int:trace_id>/branches/<int:branch_id>/",
        workspace.branch_detail,
        name="branch",
    ),
]
