"""REST API for the queue, claims, reviews and agreement (DESIGN §9)."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from reflectlab.annotations.models import Annotation
from reflectlab.core.access import object_for, project_for
from reflectlab.core.errors import Conflict
from reflectlab.core.ids import IdField
from reflectlab.projects.models import Role
from reflectlab.review import claims, decisions, selectors
from reflectlab.review.models import Claim, Review
from reflectlab.review.policy import CORRECTNESS, ORDER_KEYS, TRUNCATED_CHOICES, project_policy
from reflectlab.review.queue import queue_policy_set


class ClaimSerializer(serializers.ModelSerializer):
    trace_id = serializers.IntegerField(read_only=True)
    annotation_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Claim
        fields = [
            "id",
            "project",
            "trace_id",
            "annotation_id",
            "kind",
            "slot",
            "state",
            "created_at",
            "expires_at",
            "heartbeat_at",
        ]


class ReviewSerializer(serializers.ModelSerializer):
    annotation_state = serializers.CharField(source="annotation.state", read_only=True)
    annotation_version = serializers.IntegerField(source="annotation.version", read_only=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "annotation",
            "reviewer",
            "decision",
            "comment",
            "edits",
            "original",
            "annotation_state",
            "annotation_version",
            "started_at",
            "created_at",
        ]


class ReviewInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Review.Decision.choices)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    edits = serializers.DictField(required=False)
    version = serializers.IntegerField(
        required=False, min_value=1, help_text="The version you reviewed; stale → 409."
    )


class HeartbeatSerializer(serializers.Serializer):
    expires_at = serializers.DateTimeField()


class PolicySerializer(serializers.Serializer):
    order = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(ORDER_KEYS)), required=False
    )
    models = serializers.ListField(child=serializers.CharField(), required=False)
    runs = serializers.ListField(child=IdField(), required=False)
    correctness = serializers.ChoiceField(choices=sorted(CORRECTNESS), required=False)
    gold_rate = serializers.FloatField(min_value=0, max_value=1, required=False)
    review_disagreements_first = serializers.BooleanField(required=False)
    truncated_no_answer = serializers.ChoiceField(choices=sorted(TRUNCATED_CHOICES), required=False)


class QueueNextApi(APIView):
    """Claim the next trace to annotate: 200 with the claim, or 204 when none is left."""

    @extend_schema(
        request=None,
        responses={200: ClaimSerializer, 204: OpenApiResponse(description="Queue empty.")},
    )
    def post(self, request, project_id: int):
        project, _ = project_for(request.user, project_id)
        claim = claims.queue_next(project=project, user=request.user)
        if claim is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(ClaimSerializer(claim).data)


class ReviewNextApi(APIView):
    """Claim the next submitted annotation to review: 200 with the claim, or 204."""

    @extend_schema(
        request=None,
        responses={200: ClaimSerializer, 204: OpenApiResponse(description="Nothing to review.")},
    )
    def post(self, request, project_id: int):
        project, _ = project_for(request.user, project_id, role=Role.REVIEWER)
        claim = decisions.review_next(project=project, user=request.user)
        if claim is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(ClaimSerializer(claim).data)


def _claim_for(request, claim_id: int) -> tuple[Claim, object]:
    return object_for(request.user, Claim.objects.select_related("project"), claim_id)


class ClaimReleaseApi(APIView):
    """Give a claim back. The holder may; so may reviewers and managers (stuck claims)."""

    @extend_schema(request=None, responses={200: ClaimSerializer})
    def post(self, request, claim_id: int):
        claim, membership = _claim_for(request, claim_id)
        if claim.user_id != request.user.pk and not membership.allows(Role.REVIEWER):
            raise exceptions.PermissionDenied("Only its holder or a reviewer may release a claim.")
        if not claims.claim_release(claim=claim, by=request.user):
            raise Conflict("This claim is no longer active.")
        claim.refresh_from_db()
        return Response(ClaimSerializer(claim).data)


class ClaimHeartbeatApi(APIView):
    """Renew the lease while the page is open; 409 once it is lost."""

    @extend_schema(request=None, responses={200: HeartbeatSerializer})
    def post(self, request, claim_id: int):
        claim, _ = _claim_for(request, claim_id)
        # ClaimLost is a Conflict: the API's exception handler answers 409.
        expires = claims.claim_heartbeat(claim_id=claim.pk, user=request.user)
        return Response({"expires_at": expires})


class AnnotationReviewApi(APIView):
    """Accept, reject (comment required) or edit a submitted annotation."""

    @extend_schema(request=ReviewInputSerializer, responses={201: ReviewSerializer})
    def post(self, request, annotation_id: int):
        annotation, _ = object_for(
            request.user, Annotation.objects.all(), annotation_id, role=Role.REVIEWER
        )
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = decisions.review_decide(
            annotation=annotation,
            reviewer=request.user,
            decision=data.validated_data["decision"],
            comment=data.validated_data.get("comment", ""),
            edits=data.validated_data.get("edits"),
            version=data.validated_data.get("version"),
        )
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class QueueStatusApi(APIView):
    """Counts for the project's queue (open, claimed, complete, review states)."""

    @extend_schema(responses={200: dict})
    def get(self, request, project_id: int):
        project, _ = project_for(request.user, project_id)
        return Response(selectors.queue_status(project=project))


class QueuePolicyApi(APIView):
    """The queue policy (managers): order keys, filters, gold rate."""

    @extend_schema(responses={200: PolicySerializer})
    def get(self, request, project_id: int):
        project, _ = project_for(request.user, project_id, role=Role.MANAGER)
        return Response(project_policy(project).to_json())

    @extend_schema(request=PolicySerializer, responses={200: PolicySerializer})
    def put(self, request, project_id: int):
        project, _ = project_for(request.user, project_id, role=Role.MANAGER)
        data = PolicySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = queue_policy_set(project=project, policy=dict(data.validated_data))
        return Response(policy.to_json())


class AgreementApi(APIView):
    """Agreement for the project and per pair of annotators (user ids)."""

    @extend_schema(responses={200: dict})
    def get(self, request, project_id: int):
        project, _ = project_for(request.user, project_id, role=Role.REVIEWER)
        view = selectors.project_agreement(project=project)
        return Response(
            {
                "project": asdict(view.project),
                "pairs": [
                    {**asdict(p["stats"]), "usernames": [p["a"], p["b"]]} for p in view.pairs
                ],
            }
        )
