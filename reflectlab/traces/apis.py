from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView

from reflectlab.api.pagination import IdCursorPagination
from reflectlab.core.access import object_for, project_for
from reflectlab.traces import selectors
from reflectlab.traces.filters import TraceFilterSet
from reflectlab.traces.models import Trace


class TraceSummarySerializer(serializers.ModelSerializer):
    prompt_external_id = serializers.CharField(source="prompt.external_id", read_only=True)

    class Meta:
        model = Trace
        fields = [
            "id",
            "external_id",
            "prompt",
            "prompt_external_id",
            "origin",
            "state",
            "model_name",
            "n_steps",
            "n_reflection_steps",
            "has_reflection",
            "has_corrective",
            "truncated",
            "final_answer",
            "final_correct",
            "first_correct",
            "outcome",
            "answer_reached_step",
            "reflection_share",
            "thinking_chars",
            "run",
            "parent",
            "created_at",
        ]


def _linked_annotation(trace: Trace) -> int | None:
    """The annotation whose hint made this branch (the link corrected exports follow)."""
    if not trace.parent_id:
        return None
    linked = [a.pk for a in trace.hint_annotations.all()]
    return min(linked) if linked else None


class BranchSerializer(serializers.ModelSerializer):
    annotation = serializers.SerializerMethodField(
        help_text="The annotation this branch is linked to (its hint), or null."
    )

    class Meta:
        model = Trace
        fields = [
            "id",
            "state",
            "branch_step",
            "hint",
            "continuation_mode",
            "annotation",
            "finish_reason",
            "truncated",
            "final_answer",
            "final_correct",
            "error",
            "created_at",
        ]

    def get_annotation(self, trace: Trace) -> int | None:
        return _linked_annotation(trace)


class TraceDetailSerializer(TraceSummarySerializer):
    prompt_text = serializers.CharField(source="prompt.display_text", read_only=True)
    reference_answer = serializers.CharField(source="prompt.reference_answer", read_only=True)
    branches = BranchSerializer(many=True, read_only=True)
    annotation = serializers.SerializerMethodField(
        help_text="For a branch: the annotation it is linked to (its hint), or null."
    )

    class Meta:
        model = Trace
        fields = [
            *TraceSummarySerializer.Meta.fields,
            "prompt_text",
            "reference_answer",
            "sample_index",
            "raw_response",
            "reasoning",
            "finish_reason",
            "prompt_tokens",
            "completion_tokens",
            "latency_ms",
            "error",
            "branch_step",
            "hint",
            "continuation_mode",
            "continuation_prompt",
            "annotation",
            "reasoning_tokens",
            "warnings",
            "analysis",
            "analyzer_version",
            "branches",
        ]

    def get_annotation(self, trace: Trace) -> int | None:
        return _linked_annotation(trace)

    def to_representation(self, trace: Trace) -> dict:
        data = super().to_representation(trace)
        request = self.context.get("request")
        if request is not None and "logprobs" in request.query_params.getlist("include"):
            data["logprobs"] = trace.logprobs  # big: only when asked for
        return data


class TraceListApi(ListAPIView):
    """Traces of a project, without their text (fetch ``traces/{id}/`` for that).

    Keyset pages in id order: follow ``next`` (a ``cursor``); each page costs
    the same however deep it is. ``q`` searches the prompt text.
    """

    serializer_class = TraceSummarySerializer
    pagination_class = IdCursorPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = TraceFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Trace.objects.none()
        project, _ = project_for(self.request.user, self.kwargs["project_id"])
        return selectors.trace_list(project=project)


@extend_schema(
    parameters=[
        OpenApiParameter(
            "include",
            str,
            required=False,
            enum=["logprobs"],
            description="include=logprobs adds the per-token logprobs "
            "([{token, logprob, top_logprobs: [{token, logprob}]}], or null) — large.",
        )
    ]
)
class TraceDetailApi(RetrieveAPIView):
    """One trace with its raw text, stored analysis and branches (``?include=logprobs``
    adds its per-token logprobs)."""

    serializer_class = TraceDetailSerializer

    def get_object(self):
        unknown = set(self.request.query_params.getlist("include")) - {"logprobs"}
        if unknown:
            raise serializers.ValidationError(
                {"include": f"Unknown: {', '.join(sorted(unknown))}."}
            )
        trace, _ = object_for(
            self.request.user,
            selectors.trace_detail(trace_id=self.kwargs["trace_id"]).prefetch_related(
                "hint_annotations", "branches__hint_annotations"
            ),
            self.kwargs["trace_id"],
        )
        return trace
