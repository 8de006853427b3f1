"""The judges' REST API: judges and prompt versions, judge runs (create / status /
cancel), suggestions (list, accept, ignore), the evaluation, hint memory and
the project's assistance settings."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from reflectlab.annotations.services import annotation_state
from reflectlab.core.access import object_for, project_for
from reflectlab.core.errors import Conflict
from reflectlab.core.ids import IdField
from reflectlab.judges import memory, selectors, services
from reflectlab.judges.evaluation import judge_evaluation
from reflectlab.judges.models import MAX_SAMPLES, AssistSettings, Judge, JudgeRun, Suggestion
from reflectlab.projects.models import Role
from reflectlab.providers.models import ModelConfig
from reflectlab.runs.selectors import run_progress
from reflectlab.traces.models import Trace


def _drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    )


# -- serializers -------------------------------------------------------------------


class JudgeSerializer(serializers.ModelSerializer):
    latest_version = serializers.SerializerMethodField()

    class Meta:
        model = Judge
        fields = ["id", "project", "name", "kind", "model_config", "samples_per_trace",
                  "latest_version", "created_at"]  # fmt: skip

    def get_latest_version(self, judge) -> int | None:
        prompt = services.judge_prompt_latest(judge=judge)
        return prompt.version if prompt else None


class JudgeCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Judge.Kind.choices, default=Judge.Kind.CRITIC)
    model_config = IdField()
    samples_per_trace = serializers.IntegerField(min_value=1, max_value=MAX_SAMPLES, default=1)
    template = serializers.CharField(required=False, allow_blank=True, max_length=20_000)


class JudgeUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    model_config = IdField(required=False)
    samples_per_trace = serializers.IntegerField(min_value=1, max_value=MAX_SAMPLES, required=False)


class PromptVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    template = serializers.CharField(max_length=20_000)
    created_at = serializers.DateTimeField(read_only=True)


class JudgeRunSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    prompt_version = serializers.IntegerField(source="prompt.version", read_only=True)
    per_second = serializers.SerializerMethodField()
    errors = serializers.SerializerMethodField()

    class Meta:
        model = JudgeRun
        fields = ["id", "project", "judge", "prompt_version", "model_config", "samples_per_trace",
                  "state", "items_total", "items_done", "items_failed", "items_unparsed",
                  "percent", "tokens_prompt", "tokens_completion", "latency_total_ms",
                  "per_second", "error_summary", "errors", "created_at", "started_at",
                  "finished_at"]  # fmt: skip

    def get_per_second(self, run) -> float | None:
        return run_progress(run=run).per_second

    def get_errors(self, run) -> list[dict]:
        return [
            {"trace": i.trace_id, "sample_index": i.sample_index, "attempts": i.attempts,
             "error": i.error}
            for i in selectors.judge_run_failed_items(run=run)
        ]  # fmt: skip


class JudgeRunCreateSerializer(serializers.Serializer):
    judge = IdField()
    traces = serializers.ChoiceField(choices=["all", "filter", "selection"], default="all")
    trace_ids = serializers.ListField(child=IdField(), required=False, max_length=500_000)
    model = serializers.CharField(required=False, max_length=300)
    final_correct = serializers.BooleanField(required=False, allow_null=True, default=None)
    prompt_version = serializers.IntegerField(min_value=1, required=False)
    samples_per_trace = serializers.IntegerField(min_value=1, max_value=MAX_SAMPLES, required=False)

    def validate(self, attrs):
        if attrs["traces"] == "selection" and not attrs.get("trace_ids"):
            raise serializers.ValidationError({"trace_ids": "Give the trace ids to judge."})
        return attrs


class SuggestionSerializer(serializers.ModelSerializer):
    judge_name = serializers.CharField(source="judge.name", default=None, read_only=True)

    class Meta:
        model = Suggestion
        fields = ["id", "project", "trace", "source", "signal", "judge", "judge_name", "run",
                  "prompt_version", "parse_state", "first_error_step", "step_labels", "verdict",
                  "critique", "hint", "hint_step", "flagged_steps", "confidence", "samples",
                  "samples_parsed", "raw", "created_at"]  # fmt: skip


class SuggestionFilterSerializer(serializers.Serializer):
    trace = IdField(required=False)
    judge = IdField(required=False)
    run = IdField(required=False)
    source = serializers.ChoiceField(choices=Suggestion.Source.choices, required=False)
    signal = serializers.ChoiceField(choices=Suggestion.Signal.choices, required=False)
    parse_state = serializers.ChoiceField(choices=["parsed", "unparseable"], required=False)
    max_confidence = serializers.FloatField(min_value=0, max_value=1, required=False)


class AcceptSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="Your annotation's version.")


class EvalFilterSerializer(serializers.Serializer):
    judge = IdField(required=False)
    run = IdField(required=False)
    submitted = serializers.BooleanField(required=False, default=False)


class HintMemoryQuerySerializer(serializers.Serializer):
    trace = IdField()
    step = serializers.IntegerField(min_value=0, required=False)
    q = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    limit = serializers.IntegerField(min_value=1, max_value=20, default=5)


class AssistSettingsSerializer(serializers.Serializer):
    suggestion_mode = serializers.ChoiceField(choices=AssistSettings.Mode.choices, required=False)
    low_confidence = serializers.FloatField(min_value=0, max_value=1, required=False)


# -- judges ------------------------------------------------------------------------


class JudgeListApi(ListAPIView):
    """Judges of a project (any member); POST creates one (managers) with prompt version 1."""

    serializer_class = JudgeSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Judge.objects.none()
        project, _ = project_for(self.request.user, self.kwargs["project_id"])
        return selectors.judge_list(project=project)

    @extend_schema(request=JudgeCreateSerializer, responses={201: JudgeSerializer})
    def post(self, request, project_id: int):
        project, _ = project_for(request.user, project_id, role=Role.MANAGER)
        data = JudgeCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        config = ModelConfig.objects.filter(project=project, pk=values["model_config"]).first()
        if config is None:
            raise serializers.ValidationError({"model_config": "No such model config here."})
        try:
            judge = services.judge_create(
                project=project, name=values["name"], kind=values["kind"], model_config=config,
                user=request.user, samples_per_trace=values["samples_per_trace"],
                template=values.get("template", ""),
            )  # fmt: skip
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None
        return Response(JudgeSerializer(judge).data, status=status.HTTP_201_CREATED)


class JudgeDetailApi(APIView):
    @extend_schema(responses=JudgeSerializer)
    def get(self, request, judge_id: int):
        judge, _ = object_for(request.user, selectors.judge_detail(), judge_id)
        return Response(JudgeSerializer(judge).data)

    @extend_schema(request=JudgeUpdateSerializer, responses=JudgeSerializer)
    def patch(self, request, judge_id: int):
        judge, _ = object_for(request.user, selectors.judge_detail(), judge_id, role=Role.MANAGER)
        data = JudgeUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "model_config" in values:
            values["model_config"] = ModelConfig.objects.filter(
                project_id=judge.project_id, pk=values["model_config"]
            ).first()
            if values["model_config"] is None:
                raise serializers.ValidationError({"model_config": "No such model config here."})
        try:
            judge = services.judge_update(judge=judge, **values)
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None
        return Response(JudgeSerializer(judge).data)


class JudgePromptApi(APIView):
    """A judge's prompt versions, newest first; POST adds a version (versions never change)."""

    @extend_schema(responses=PromptVersionSerializer(many=True))
    def get(self, request, judge_id: int):
        judge, _ = object_for(request.user, selectors.judge_detail(), judge_id)
        prompts = selectors.judge_prompts(judge=judge)
        return Response(PromptVersionSerializer(prompts, many=True).data)

    @extend_schema(request=PromptVersionSerializer, responses={201: PromptVersionSerializer})
    def post(self, request, judge_id: int):
        judge, _ = object_for(request.user, selectors.judge_detail(), judge_id, role=Role.MANAGER)
        data = PromptVersionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            prompt = services.judge_prompt_add(
                judge=judge, template=data.validated_data["template"], user=request.user
            )
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None
        return Response(PromptVersionSerializer(prompt).data, status=status.HTTP_201_CREATED)


# -- judge runs --------------------------------------------------------------------


class JudgeRunCreateApi(APIView):
    """Run a judge over all, filtered (``model``, ``final_correct``) or selected traces."""

    @extend_schema(request=JudgeRunCreateSerializer, responses={201: JudgeRunSerializer})
    def post(self, request):
        data = JudgeRunCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        judge, _ = object_for(
            request.user, selectors.judge_detail(), values["judge"], role=Role.MANAGER
        )
        prompt = None
        if "prompt_version" in values:
            prompt = judge.prompts.filter(version=values["prompt_version"]).first()
            if prompt is None:
                raise serializers.ValidationError({"prompt_version": "No such version."})
        filters = {}
        if values["traces"] == "filter":
            filters = {"model": values.get("model"), "final_correct": values["final_correct"]}
        try:
            run = services.judge_run_create(
                judge=judge, user=request.user, prompt=prompt, filters=filters,
                trace_ids=values.get("trace_ids") if values["traces"] == "selection" else None,
                samples_per_trace=values.get("samples_per_trace"),
            )  # fmt: skip
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None
        return Response(JudgeRunSerializer(run).data, status=status.HTTP_201_CREATED)


class JudgeRunDetailApi(APIView):
    @extend_schema(responses=JudgeRunSerializer)
    def get(self, request, run_id: int):
        run, _ = object_for(request.user, selectors.judge_run_detail(), run_id)
        return Response(JudgeRunSerializer(run).data)


class JudgeRunCancelApi(APIView):
    """Cancel a queued or running judge run (409 ``Conflict``, the run as ``current``,
    when it had already finished)."""

    @extend_schema(request=None, responses=JudgeRunSerializer)
    def post(self, request, run_id: int):
        run, _ = object_for(request.user, selectors.judge_run_detail(), run_id, role=Role.MANAGER)
        if not services.judge_run_cancel(run=run):
            raise Conflict(
                f"Judge run {run.pk} has already finished.", state=JudgeRunSerializer(run).data
            )
        return Response(JudgeRunSerializer(run).data)


# -- suggestions -------------------------------------------------------------------


class SuggestionListApi(ListAPIView):
    """Suggestions of a project. Annotators see them only as the project shows them
    (hidden mode: for traces they have submitted)."""

    serializer_class = SuggestionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Suggestion.objects.none()
        project, membership = project_for(self.request.user, self.kwargs["project_id"])
        filters = SuggestionFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        visible = selectors.suggestions_visible(project=project, membership=membership)
        return selectors.suggestion_list(queryset=visible, filters=filters.validated_data)


def _visible_suggestion(request, suggestion_id: int) -> Suggestion:
    suggestion, membership = object_for(
        request.user, Suggestion.objects.select_related("trace", "project"), suggestion_id
    )
    visible = selectors.suggestions_visible(project=suggestion.project, membership=membership)
    if not visible.filter(pk=suggestion.pk).exists():
        raise serializers.ValidationError(
            {"non_field_errors": ["Suggestions are hidden until you submit your annotation."]}
        )
    return suggestion


class SuggestionAcceptApi(APIView):
    """Fill your draft with the suggestion (compare-and-set: a stale version → 409)."""

    @extend_schema(request=AcceptSerializer, responses=None)
    def post(self, request, suggestion_id: int):
        suggestion = _visible_suggestion(request, suggestion_id)
        data = AcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:  # a stale version raises Conflict: the API's handler answers 409 with "current"
            annotation = services.suggestion_accept(
                suggestion=suggestion, user=request.user, version=data.validated_data["version"]
            )
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None
        return Response(annotation_state(annotation))


class SuggestionIgnoreApi(APIView):
    """Record that you saw the suggestion and did not take it."""

    @extend_schema(request=None, responses=None)
    def post(self, request, suggestion_id: int):
        suggestion = _visible_suggestion(request, suggestion_id)
        try:
            outcome = services.suggestion_ignore(suggestion=suggestion, user=request.user)
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None
        return Response({"suggestion": suggestion.pk, "outcome": outcome.outcome})


# -- evaluation, hint memory, settings --------------------------------------------------


class JudgeEvalApi(APIView):
    """ProcessBench agreement per subset, step κ, acceptance and timing (reviewers, managers)."""

    @extend_schema(parameters=[EvalFilterSerializer], responses=None)
    def get(self, request, project_id: int):
        project, _ = project_for(request.user, project_id, role=Role.REVIEWER)
        data = EvalFilterSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        judge = run = None
        if "judge" in values:
            judge = Judge.objects.filter(project=project, pk=values["judge"]).first()
            if judge is None:
                raise serializers.ValidationError({"judge": "No such judge here."})
        if "run" in values:
            run = JudgeRun.objects.filter(project=project, pk=values["run"]).first()
            if run is None:
                raise serializers.ValidationError({"run": "No such judge run here."})
        states = ("accepted", "submitted") if values["submitted"] else ("accepted",)
        result = judge_evaluation(project=project, judge=judge, run=run, human_states=states)
        return Response(result.to_dict())


class HintMemoryApi(APIView):
    """Accepted hints most like a step of a trace (same prompt first), or like ``q``."""

    @extend_schema(parameters=[HintMemoryQuerySerializer], responses=None)
    def get(self, request, project_id: int):
        project, _ = project_for(request.user, project_id)
        data = HintMemoryQuerySerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        trace = Trace.objects.filter(project=project, pk=values["trace"]).first()
        if trace is None:
            raise serializers.ValidationError({"trace": "No such trace here."})
        text = values["q"] or memory.step_text_at(trace, values.get("step"))
        found = memory.hint_memory_search(
            project=project, text=text, prompt_id=trace.prompt_id, exclude_trace_id=trace.pk,
            limit=values["limit"],
        )  # fmt: skip
        return Response(
            [
                {"hint": m.entry.hint, "step_text": m.entry.step_text, "trace": m.entry.trace_id,
                 "same_prompt": m.same_prompt, "score": m.score}
                for m in found
            ]
        )  # fmt: skip


class AssistSettingsApi(APIView):
    """How the workspace shows suggestions (any member reads; managers change)."""

    @extend_schema(responses=AssistSettingsSerializer)
    def get(self, request, project_id: int):
        project, _ = project_for(request.user, project_id)
        return Response(
            AssistSettingsSerializer(selectors.assist_settings_of(project=project)).data
        )

    @extend_schema(request=AssistSettingsSerializer, responses=AssistSettingsSerializer)
    def patch(self, request, project_id: int):
        project, _ = project_for(request.user, project_id, role=Role.MANAGER)
        data = AssistSettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            settings = services.assist_settings_update(project=project, **data.validated_data)
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None
        return Response(AssistSettingsSerializer(settings).data)
