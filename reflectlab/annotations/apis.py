"""``/api/v1/annotations/``: list and create-or-get; one annotation, PATCH with ``version``."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from reflectlab.annotations import selectors, services
from reflectlab.annotations.models import Annotation
from reflectlab.annotations.step_edits import step_edit_apply
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
            "step_reasons",
            "replacement_step",
            "replacement_alternatives",
            "flawed_process",
            "exit_reason",
            "reflection_quality",
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
    step_reasons = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=2_000),
        required=False,
        help_text="Why each -1 step is bad: {step index: reason}; only on steps labelled -1.",
    )
    replacement_step = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20_000,
        help_text="A human rewrite of the first wrong step (step_preference export).",
    )
    replacement_alternatives = serializers.ListField(
        child=serializers.CharField(max_length=20_000),
        required=False,
        max_length=10,
        help_text="More rewrites of the first wrong step, best first.",
    )
    flawed_process = serializers.BooleanField(
        required=False, help_text="Right final answer reached through a flawed process."
    )
    exit_reason = serializers.ChoiceField(
        choices=Annotation.ExitReason.choices,
        required=False,
        allow_blank=True,
        help_text="Skip the trace honestly: it is submitted without labels and never exported "
        "as training data.",
    )
    reflection_quality = serializers.DictField(
        child=serializers.DictField(),
        required=False,
        help_text='DeltaBench: {episode index: {"quality": "effective"|"ineffective"|'
        '"harmful", "strategy_shift": bool}}; episodes are the analysis\' episodes.',
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
    """One annotation. PATCH carries ``version``; a stale one answers 409 with the current state.

    JSON only: ``reflection_quality`` nests objects, which a form body cannot carry.
    """

    parser_classes = [JSONParser]

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
        for name in ("step_labels", "step_reasons", "reflection_quality"):
            if name in changes:
                changes[name] = {str(k): v for k, v in changes[name].items()}
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
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES

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


class StepEditSerializer(serializers.Serializer):
    op = serializers.ChoiceField(choices=["split", "merge"])
    offset = serializers.IntegerField(
        min_value=1,
        help_text="split: where the new step starts; merge: the start of the step joined "
        "to the one before (offsets into the trace's step text).",
    )


class StepEditResultSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    splits = serializers.ListField(child=serializers.IntegerField())
    merges = serializers.ListField(child=serializers.IntegerField())
    steps = serializers.ListField(child=serializers.DictField())


class StepEditApi(APIView):
    """Split or merge a trace's steps; every annotation of the trace follows (labels,
    reasons, first error, hint step), each with a new version."""

    serializer_class = StepEditSerializer

    @extend_schema(request=StepEditSerializer, responses={200: StepEditResultSerializer})
    def post(self, request, trace_id: int):
        trace, _ = object_for(request.user, Trace.objects.all(), trace_id)
        data = StepEditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        edit, steps = step_edit_apply(trace_id=trace.pk, user=request.user, **data.validated_data)
        return Response(
            {
                "version": edit.version,
                "splits": edit.splits,
                "merges": edit.merges,
                "steps": [
                    {k: s.get(k) for k in ("index", "start", "end", "kind", "source")}
                    for s in steps
                ],
            }
        )
