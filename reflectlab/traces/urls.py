from django.urls import path

from reflectlab.traces import views

app_name = "traces"
urlpatterns = [
    path("projects/<int:project_id>/traces/", views.trace_list, name="list"),
    path("traces/<int:trace_id>/", views.trace_detail, name="detail"),
    path(
        "traces/<int:trace_id>/branches/<int:branch_id>/",
        views.branch_detail,
        name="branch",
    ),
]
