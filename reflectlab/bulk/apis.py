"""``POST /api/v1/projects/{id}/traces/bulk``: the selection bar's actions in the API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from reflectlab.bulk.services import ACTIONS, ROLES, traces_bulk
from reflectlab.core.access import project_for, require_role
from reflectlab.core.ids import IdField
from reflectlab.exports.apis import ExportInputSerializer, ExportSerializer
from reflectlab.traces.selection import MAX_IDS, selection_parse


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
