"""API routes of this app, included under /api/v1/ by reflectlab.api.urls."""

from django.urls import path

from reflectlab.runs.apis import RunCancelApi, RunCreateApi, RunDetailApi, TraceRegenerateApi
from reflectlab.runs.batch_apis import BatchRequestsApi, BatchResultsApi, BatchSubmitApi

urlpatterns = [
    path("runs/", RunCreateApi.as_view(), name="api-runs"),
    path("runs/<int:run_id>/", RunDetailApi.as_view(), name="api-run"),
    path("runs/<int:run_id>/cancel", RunCancelApi.as_view(), name="api-run-cancel"),
    path(
        "runs/<int:run_id>/batch/requests",
        BatchRequestsApi.as_view(),
        name="api-run-batch-requests",
    ),
    path(
        "runs/<int:run_id>/batch/results", BatchResultsApi.as_view(), name="api-run-batch-results"
    ),
    path("runs/<int:run_id>/batch/submit", BatchSubmitApi.as_view(), name="api-run-batch-submit"),
    path(
        "traces/<int:trace_id>/regenerate",
        TraceRegenerateApi.as_view(),
        name="api-trace-regenerate",
    ),
]
