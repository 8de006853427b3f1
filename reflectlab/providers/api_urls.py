"""API routes of this app, included under /api/v1/ by reflectlab.api.urls."""

from django.urls import path

from reflectlab.providers.apis import ModelConfigDetailApi, ModelConfigListApi

urlpatterns = [
    path("model-configs/", ModelConfigListApi.as_view(), name="api-model-configs"),
    path("model-configs/<int:config_id>/", ModelConfigDetailApi.as_view(), name="api-model-config"),
]
