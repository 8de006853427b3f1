"""API routes of this app, included under /api/v1/ by reflectlab.api.urls."""

from django.urls import path

from reflectlab.review import apis

P = "projects/<int:project_id>/"

urlpatterns = [
    path(f"{P}queue/", apis.QueueStatusApi.as_view(), name="api-queue"),
    path(f"{P}queue/next", apis.QueueNextApi.as_view(), name="api-queue-next"),
    path(f"{P}queue/policy", apis.QueuePolicyApi.as_view(), name="api-queue-policy"),
    path(f"{P}review/next", apis.ReviewNextApi.as_view(), name="api-review-next"),
    path(f"{P}agreement", apis.AgreementApi.as_view(), name="api-agreement"),
    path("claims/<int:claim_id>/release", apis.ClaimReleaseApi.as_view(), name="api-claim-release"),
    path(
        "claims/<int:claim_id>/heartbeat",
        apis.ClaimHeartbeatApi.as_view(),
        name="api-claim-heartbeat",
    ),
    path(
        "annotations/<int:annotation_id>/review",
        apis.AnnotationReviewApi.as_view(),
        name="api-annotation-review",
    ),
]
