"""``/api/v1/annotations/``: list and create-or-get; one annotation, PATCH with ``version``."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from reflectlab.annotations import selectors, services
from reflectlab.annotations.models import Annotation
from reflectlab.core.access import object_for
from reflectlab.core.ids import IdField
from reflectlab.judges.services import suggestion_outcomes_on_submit
from reflectlab.traces.models import Trace


class AnnotationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Annotation
        fields = [
            "id",
            "project",
            "trace",
            "annotator",
            "state",
            "version",
            "step_labels",
            "first_error_step",
            "error_category",
            "hint",
            "hint_step",
            "branch",
            "critique",
            "verdict",
            "violated_principles",
            "time_spent_seconds",
            "created_at",
            "updated_at",
            "submitted_at",
        ]
        read_only_fields = fields


class AnnotationFilterSerializer(serializers.Serializer):
    project = IdField(required=False)
    trace = IdField(required=False)
    state = serializers.ChoiceField(choices=Annotation.State.choices, required=False)


class AnnotationCreateSerializer(serializers.Serializer):
    trace = IdField()


class AnnotationPatchSerializer(serializers.Serializer):
    version = IdField()
    elapsed_seconds = serializers.IntegerField(min_value=0, required=False, default=0)
    step_labels = serializers.DictField(child=serializers.IntegerField(), required=False)
    first_error_step = serializers.IntegerField(min_value=-1, required=False, allow_null=True)
    error_category = serializers.CharField(required=False, allow_blank=True, max_length=100)
    hint = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    hint_step = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    critique = serializers.CharField(required=False, allow_blank=True, max_length=50_000)
    verdict = serializers.ChoiceField(
        choices=Annotation.Verdict.choices, required=False, allow_blank=True
    )
    violated_principles = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False
    )


class AnnotationListApi(ListAPIView):
    """Annotations in the caller's projects (annotators: their own). POST: create-or-get."""

    serializer_class = AnnotationSerializer
    filter_backends: list = []

    def get_queryset(self):
        params = AnnotationFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        queryset = selectors.annotations_visible_to(user=self.request.user)
        for name in ("project", "trace", "state"):
            if name in params.validated_data:
                queryset = queryset.filter(**{name: params.validated_data[name]})
        return queryset

    @extend_schema(request=AnnotationCreateSerializer, responses={200: AnnotationSerializer})
    def post(self, request):
        data = AnnotationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        trace, _ = object_for(request.user, Trace.objects.all(), data.validated_data["trace"])
        existed = Annotation.objects.filter(trace=trace, annotator_id=request.user.pk).exists()
        annotation = services.annotation_get_or_create(trace=trace, user=request.user)
        return Response(
            AnnotationSerializer(annotation).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


class AnnotationDetailApi(APIView):
    """One annotation. PATCH carries ``version``; a stale one answers 409 with the current state."""

    def get_object(self) -> Annotation:
        annotation, _ = object_for(
            self.request.user, Annotation.objects.all(), self.kwargs["annotation_id"]
        )
        if (
            not selectors.annotations_visible_to(user=self.request.user)
            .filter(pk=annotation.pk)
            .exists()
        ):
            raise PermissionDenied("Annotators see only their own annotations.")
        return annotation

    @extend_schema(responses={200: AnnotationSerializer})
    def get(self, request, annotation_id: int):
        return Response(AnnotationSerializer(self.get_object()).data)

    @extend_schema(request=AnnotationPatchSerializer, responses={200: AnnotationSerializer})
    def patch(self, request, annotation_id: int):
        annotation = self.get_object()
        data = AnnotationPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        version = changes.pop("version")
        elapsed = changes.pop("elapsed_seconds", 0)
        if "step_labels" in changes:
            changes["step_labels"] = {str(k): v for k, v in changes["step_labels"].items()}
        # A stale version raises Conflict: 409 with the current state (api.errors).
        annotation = services.annotation_save(
            annotation_id=annotation.pk,
            user=request.user,
            version=version,
            changes=changes,
            elapsed_seconds=elapsed,
        )
        return Response(AnnotationSerializer(annotation).data)


class AnnotationSubmitSerializer(serializers.Serializer):
    version = IdField(required=False, help_text="The version you read; stale → 409.")


class AnnotationSubmitApi(AnnotationDetailApi):
    """Submit an annotation for review (draft or rejected → submitted); only its annotator.

    Completes the annotator's queue claim. Needs a first-error answer (or -1 for
    "no error"). With ``version``, a stale one answers 409 with the current state.
    """

    http_method_names = ["post", "options"]

    @extend_schema(request=AnnotationSubmitSerializer, responses={200: AnnotationSerializer})
    def post(self, request, annotation_id: int):
        annotation = self.get_object()
        data = AnnotationSubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        annotation = services.annotation_submit(
            annotation_id=annotation.pk,
            user=request.user,
            version=data.validated_data.get("version"),
        )
        suggestion_outcomes_on_submit(annotation_id=annotation.pk)
        return Response(AnnotationSerializer(annotation).data)
