"""API routes of this app, included under /api/v1/ by reflectlab.api.urls."""

from django.urls import path

from reflectlab.exports import apis

urlpatterns = [
    path("projects/<int:project_id>/exports/", apis.ExportListApi.as_view(), name="api-exports"),
    path("exports/<int:export_id>/", apis.ExportDetailApi.as_view(), name="api-export"),
    path(
        "exports/<int:export_id>/download",
        apis.ExportDownloadApi.as_view(),
        name="api-export-download",
    ),
    path(
        "exports/<int:export_id>/cancel", apis.ExportCancelApi.as_view(), name="api-export-cancel"
    ),
]
