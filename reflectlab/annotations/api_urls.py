"""API routes of this app, included under /api/v1/ by reflectlab.api.urls."""

from django.urls import path

from reflectlab.annotations.apis import (
    AnnotationDetailApi,
    AnnotationListApi,
    AnnotationSubmitApi,
    StepEditApi,
)

urlpatterns = [
    path("annotations/", AnnotationListApi.as_view(), name="api-annotations"),
    path("annotations/<int:annotation_id>/", AnnotationDetailApi.as_view(), name="api-annotation"),
    path(
        "annotations/<int:annotation_id>/submit",
        AnnotationSubmitApi.as_view(),
        name="api-annotation-submit",
    ),
    path("traces/<int:trace_id>/steps/edit", StepEditApi.as_view(), name="api-trace-steps-edit"),
]
