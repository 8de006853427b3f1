from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from reflectlab.api.pagination import IdCursorPagination
from reflectlab.core.access import object_for, project_for, require_role
from reflectlab.core.ids import IdField
from reflectlab.exports.apis import ExportInputSerializer, ExportSerializer
from reflectlab.traces import selectors
from reflectlab.traces.bulk import ACTIONS, ROLES, traces_bulk
from reflectlab.traces.filters import TraceFilterSet
from reflectlab.traces.models import Trace
from reflectlab.traces.selection import MAX_IDS, selection_parse


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


class TraceBulkInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=ACTIONS,
        help_text="pin / unpin / queue (add to the annotation queue): managers; "
        "export: reviewers and managers.",
    )
    ids = serializers.ListField(
        child=IdField(),
        required=False,
        min_length=1,
        max_length=MAX_IDS,
        help_text="The chosen traces (all must be of this project). Give ids or filters.",
    )
    filters = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=300),
        required=False,
        help_text="Every trace these trace-list filters match (the GET traces/ "
        'parameters, e.g. {"final_correct": "false", "model": "m"}; {} is '
        "every trace). Acted on as a query, never as a list of ids.",
    )
    export = ExportInputSerializer(
        required=False,
        help_text="For action=export: the export to start (as POST exports/); the "
        "selection is added to its filters.",
    )

    def validate(self, data):
        if ("ids" in data) == ("filters" in data):
            raise serializers.ValidationError("Give ids or filters (one of them).")
        if data["action"] == "export" and "export" not in data:
            raise serializers.ValidationError({"export": "action=export needs the export."})
        return data


class TraceBulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    message = serializers.CharField(
        help_text='What was done, e.g. "Queued 30 traces, 5 already queued."'
    )
    changed = serializers.IntegerField()
    unchanged = serializers.IntegerField(help_text="Already so (already pinned, already queued).")
    skipped = serializers.DictField(child=serializers.IntegerField(), help_text="reason → count")
    export = ExportSerializer(allow_null=True)


class TraceBulkApi(APIView):
    """Pin, unpin, queue or export many traces at once: chosen ``ids`` or every trace
    ``filters`` match. An id that is not a trace of this project refuses the whole
    request (400, nothing changed)."""

    @extend_schema(request=TraceBulkInputSerializer, responses={200: TraceBulkResultSerializer})
    def post(self, request, project_id: int):
        project, membership = project_for(request.user, project_id)
        data = TraceBulkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        action = data.validated_data["action"]
        require_role(membership, ROLES[action])
        selection = selection_parse(
            project=project,
            ids=data.validated_data.get("ids"),
            filters=data.validated_data.get("filters"),
        )
        try:
            result = traces_bulk(
                selection=selection,
                action=action,
                user=request.user,
                export=data.validated_data.get("export"),
            )
        except (ValueError, TypeError) as exc:
            raise serializers.ValidationError({"export": str(exc)}) from None
        body = {
            "action": result.action,
            "message": result.message,
            "changed": result.changed,
            "unchanged": result.unchanged,
            "skipped": result.skipped or {},
            "export": ExportSerializer(result.export).data if result.export else None,
        }
        return Response(body)
