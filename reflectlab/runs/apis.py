from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from reflectlab.annotations import services as annotation_services
from reflectlab.annotations.models import Annotation
from reflectlab.core.access import object_for, project_for
from reflectlab.core.errors import Conflict
from reflectlab.projects.models import Role
from reflectlab.providers.models import ModelConfig
from reflectlab.runs import selectors, services
from reflectlab.runs.models import Run
from reflectlab.traces.apis import TraceDetailSerializer
from reflectlab.traces.models import Trace


def _drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    )


class RunItemErrorSerializer(serializers.Serializer):
    prompt = serializers.IntegerField(source="prompt_id")
    prompt_external_id = serializers.CharField(source="prompt.external_id")
    sample_index = serializers.IntegerField()
    attempts = serializers.IntegerField()
    error = serializers.CharField()


class RunSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    per_second = serializers.SerializerMethodField()
    eta_seconds = serializers.SerializerMethodField()
    errors = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "project",
            "model_config",
            "samples_per_prompt",
            "mode",
            "batch_id",
            "batch_status",
            "state",
            "items_total",
            "items_done",
            "items_failed",
            "percent",
            "tokens_prompt",
            "tokens_completion",
            "latency_total_ms",
            "per_second",
            "eta_seconds",
            "error_summary",
            "errors",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_per_second(self, run) -> float | None:
        return selectors.run_progress(run=run).per_second

    def get_eta_seconds(self, run) -> float | None:
        return selectors.run_progress(run=run).eta_s

    def get_errors(self, run) -> list[dict]:
        return RunItemErrorSerializer(selectors.run_failed_items(run=run), many=True).data


class RunCreateInputSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    model_config = serializers.IntegerField()
    prompts = serializers.ChoiceField(choices=["all", "filter", "selection"], default="all")
    q = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    prompt_ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, max_length=1_000_000
    )
    samples_per_prompt = serializers.IntegerField(
        min_value=1, max_value=services.MAX_SAMPLES, default=1
    )
    mode = serializers.ChoiceField(choices=Run.Mode.choices, default=Run.Mode.LIVE)

    def validate(self, attrs):
        if attrs["prompts"] == "filter" and not attrs.get("q"):
            raise serializers.ValidationError({"q": "Give the text to filter on."})
        if attrs["prompts"] == "selection" and not attrs.get("prompt_ids"):
            raise serializers.ValidationError({"prompt_ids": "Give the prompt ids to run."})
        return attrs


class RunCreateApi(APIView):
    """Start a run: all prompts, those matching ``q``, or ``prompt_ids``; k samples each."""

    @extend_schema(request=RunCreateInputSerializer, responses={201: RunSerializer})
    def post(self, request):
        data = RunCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        project, _ = project_for(request.user, values["project"], role=Role.MANAGER)
        config = ModelConfig.objects.filter(project=project, pk=values["model_config"]).first()
        if config is None:
            raise serializers.ValidationError({"model_config": "No such model config here."})
        try:
            run = services.run_create(
                project=project,
                model_config=config,
                user=request.user,
                samples_per_prompt=values["samples_per_prompt"],
                prompt_ids=values.get("prompt_ids") if values["prompts"] == "selection" else None,
                q=values["q"] if values["prompts"] == "filter" else "",
                mode=values["mode"],
            )
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None
        return Response(RunSerializer(run).data, status=status.HTTP_201_CREATED)


class RunDetailApi(APIView):
    """A run's state and progress, with its first failed items and their errors."""

    @extend_schema(responses=RunSerializer)
    def get(self, request, run_id: int):
        run, _ = object_for(request.user, selectors.run_detail(run_id=run_id), run_id)
        return Response(RunSerializer(run).data)


class RunCancelApi(APIView):
    """Cancel a queued or running run (409 ``Conflict``, the run as ``current``, when it
    had already finished)."""

    @extend_schema(request=None, responses=RunSerializer)
    def post(self, request, run_id: int):
        run, _ = object_for(
            request.user, selectors.run_detail(run_id=run_id), run_id, role=Role.MANAGER
        )
        if not services.run_cancel(run=run):
            raise Conflict(f"Run {run.pk} has already finished.", state=RunSerializer(run).data)
        return Response(RunSerializer(run).data)


class RegenerateInputSerializer(serializers.Serializer):
    step = serializers.IntegerField(min_value=0, help_text="Index of the marked (wrong) step.")
    hint = serializers.CharField(max_length=4000)
    model_config = serializers.IntegerField(required=False)
    annotation = serializers.IntegerField(
        required=False,
        help_text="Your annotation of this trace to link the branch to (its hint and step are "
        "saved, so corrected SFT and preference exports use the branch). Without it, your "
        "editable annotation of the trace is linked when you have one.",
    )
    version = serializers.IntegerField(
        required=False, help_text="The annotation version you read; stale → 409."
    )


class TraceRegenerateApi(APIView):
    """Continue a trace from the marked step with a hint; returns the pending branch (202).

    The branch is linked to the caller's annotation of the trace (``annotation``
    in the answer) — the one named, or else the caller's editable one — exactly
    as the workspace's *regenerate* does.
    """

    @extend_schema(request=RegenerateInputSerializer, responses={202: TraceDetailSerializer})
    def post(self, request, trace_id: int):
        trace, _ = object_for(
            request.user, Trace.objects.select_related("project", "prompt", "run"), trace_id
        )
        data = RegenerateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        config = None
        if "model_config" in values:
            config = ModelConfig.objects.filter(
                project_id=trace.project_id, pk=values["model_config"]
            ).first()
            if config is None:
                raise serializers.ValidationError({"model_config": "No such model config here."})
        annotation = _annotation_to_link(trace, request.user, values.get("annotation"))
        try:  # a stale annotation version raises Conflict: 409 with the current state
            if annotation is not None:
                annotation, branch = annotation_services.annotation_regenerate(
                    annotation=annotation,
                    user=request.user,
                    version=values.get("version", annotation.version),
                    step=values["step"],
                    hint=values["hint"],
                    model_config=config,
                )
            else:
                branch = services.trace_regenerate(
                    trace=trace,
                    step_index=values["step"],
                    hint=values["hint"],
                    user=request.user,
                    model_config=config,
                )
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None
        return Response(TraceDetailSerializer(branch).data, status=status.HTTP_202_ACCEPTED)


def _annotation_to_link(trace: Trace, user, annotation_id: int | None) -> Annotation | None:
    mine = Annotation.objects.filter(trace=trace, annotator_id=user.pk)
    if annotation_id is not None:
        annotation = mine.filter(pk=annotation_id).first()
        if annotation is None:
            raise serializers.ValidationError({"annotation": "Not your annotation of this trace."})
        return annotation
    return mine.filter(state__in=annotation_services.REOPENABLE).first()
