from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView

from reflectlab.core.access import object_for, project_for
from reflectlab.traces import selectors
from reflectlab.traces.forms import TraceFilterForm
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
            "reflection_share",
            "thinking_chars",
            "parent",
            "created_at",
        ]


class BranchSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trace
        fields = [
            "id",
            "state",
            "branch_step",
            "hint",
            "continuation_mode",
            "final_answer",
            "final_correct",
            "error",
            "created_at",
        ]


class TraceDetailSerializer(TraceSummarySerializer):
    prompt_text = serializers.CharField(source="prompt.display_text", read_only=True)
    reference_answer = serializers.CharField(source="prompt.reference_answer", read_only=True)
    branches = BranchSerializer(many=True, read_only=True)

    class Meta:
        model = Trace
        fields = [
            *TraceSummarySerializer.Meta.fields,
            "prompt_text",
            "reference_answer",
            "run",
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
            "analysis",
            "analyzer_version",
            "branches",
        ]


_BOOL = {"type": bool, "required": False}


@extend_schema(
    parameters=[
        OpenApiParameter("q", str, required=False, description="Search the prompt text."),
        OpenApiParameter("model", str, required=False),
        OpenApiParameter("final_correct", str, required=False, enum=["true", "false"]),
        OpenApiParameter("has_reflection", str, required=False, enum=["true", "false"]),
        OpenApiParameter("has_corrective", str, required=False, enum=["true", "false"]),
        OpenApiParameter("truncated", str, required=False, enum=["true", "false"]),
        OpenApiParameter("origin", str, required=False, enum=Trace.Origin.values),
        OpenApiParameter("state", str, required=False, enum=Trace.State.values),
        OpenApiParameter("prompt", int, required=False),
    ]
)
class TraceListApi(ListAPIView):
    """Traces of a project, without their text (fetch ``traces/{id}/`` for that)."""

    serializer_class = TraceSummarySerializer
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Trace.objects.none()
        project, _ = project_for(self.request.user, self.kwargs["project_id"])
        params = self.request.query_params.copy()
        params.pop("page", None)
        form = TraceFilterForm(params)
        if not form.is_valid():
            raise serializers.ValidationError(form.errors)
        return selectors.trace_list(project=project, filters=form.cleaned_data)


class TraceDetailApi(RetrieveAPIView):
    """One trace with its raw text, stored analysis and branches."""

    serializer_class = TraceDetailSerializer

    def get_object(self):
        trace, _ = object_for(
            self.request.user,
            selectors.trace_detail(trace_id=self.kwargs["trace_id"]).prefetch_related("branches"),
            self.kwargs["trace_id"],
        )
        return trace
