"""The REST API under /api/v1/. Views live in each app's ``apis.py``."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from reflectlab.api.auth import TokenApi
from reflectlab.bulk.apis import TraceBulkApi
from reflectlab.projects.apis import MemberApi, ProjectViewSet
from reflectlab.prompts.apis import ImportApi, ImportJobApi, PromptListApi, TraceImportApi
from reflectlab.traces.apis import TraceDetailApi, TraceListApi

router = SimpleRouter()
router.register("projects", ProjectViewSet, basename="project")

urlpatterns = [
    path("auth/token", TokenApi.as_view(), name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's initializer as a script file, not inline (CSP).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("projects/<int:project_id>/members/", MemberApi.as_view(), name="api-members"),
    path("projects/<int:project_id>/prompts/", PromptListApi.as_view(), name="api-prompts"),
    path(
        "projects/<int:project_id>/prompts/import", ImportApi.as_view(), name="api-prompts-import"
    ),
    path("projects/<int:project_id>/traces/", TraceListApi.as_view(), name="api-traces"),
    path(
        "projects/<int:project_id>/traces/import",
        TraceImportApi.as_view(),
        name="api-traces-import",
    ),
    path("projects/<int:project_id>/traces/bulk", TraceBulkApi.as_view(), name="api-traces-bulk"),
    path(
        "projects/<int:project_id>/imports/<int:job_id>", ImportJobApi.as_view(), name="api-import"
    ),
    path("traces/<int:trace_id>/", TraceDetailApi.as_view(), name="api-trace"),
    path("", include(router.urls)),
    path("", include("reflectlab.providers.api_urls")),
    path("", include("reflectlab.runs.api_urls")),
    path("", include("reflectlab.annotations.api_urls")),
    path("", include("reflectlab.review.api_urls")),
    path("", include("reflectlab.exports.api_urls")),
    path("", include("reflectlab.dashboards.api_urls")),
    path("", include("reflectlab.judges.api_urls")),
]
