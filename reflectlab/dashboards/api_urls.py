"""API routes of this app, included under /api/v1/ by reflectlab.api.urls."""

from django.urls import path

from reflectlab.dashboards.apis import StatsApi

urlpatterns = [
    path("projects/<int:project_id>/stats", StatsApi.as_view(), name="api-stats"),
]
