from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from reflectlab.core.access import object_for, project_for
from reflectlab.core.errors import Conflict
from reflectlab.exports import selectors, services
from reflectlab.exports.models import Export
from reflectlab.exports.views import CREATE_ROLE, DOWNLOAD_ROLE, download_response


class ExportSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    percent = serializers.IntegerField(read_only=True)
    download = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id",
            "project",
            "kind",
            "format",
            "filters",
            "options",
            "state",
            "percent",
            "rows_total",
            "rows_done",
            "counts",
            "files",
            "file_name",
            "size_bytes",
            "sha256",
            "error",
            "notes",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "download",
        ]

    def get_download(self, obj) -> str | None:
        if not obj.is_downloadable:
            return None
        from django.urls import reverse

        return reverse("api-export-download", kwargs={"export_id": obj.pk})


class ExportInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Export.Kind.choices)
    format = serializers.ChoiceField(choices=Export.Format.choices, default=Export.Format.JSONL)
    filters = serializers.DictField(required=False, default=dict)
    options = serializers.DictField(
        required=False,
        default=dict,
        help_text="hint_mode: inline (default) | stripped | user_turn (sft_corrected only); "
        "reasoning: think_tags (default) | reasoning_content; branch_filter: correct (default: "
        "only hint branches graded correct) | finished (any finished branch; truncated branches "
        "never count); neutral_is_good: bool (default true); seed: str; splits: "
        '{"train": 0.9, "test": 0.1}; variant: one of the kind\'s variants.',
    )


class ExportListApi(GenericAPIView):
    """Exports of a project (any member), newest first and paginated; POST starts one
    (reviewers and managers)."""

    serializer_class = ExportSerializer
    queryset = Export.objects.none()  # the model for the schema; get() scopes to the project

    @extend_schema(responses=ExportSerializer(many=True))
    def get(self, request, project_id: int):
        project, _ = project_for(request.user, project_id)
        page = self.paginate_queryset(selectors.export_list(project=project))
        return self.get_paginated_response(ExportSerializer(page, many=True).data)

    @extend_schema(request=ExportInputSerializer, responses={202: ExportSerializer})
    def post(self, request, project_id: int):
        project, _ = project_for(request.user, project_id, role=CREATE_ROLE)
        data = ExportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            export = services.export_create(
                project=project, user=request.user, **data.validated_data
            )
        except (ValueError, TypeError) as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from None
        return Response(ExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailApi(APIView):
    @extend_schema(responses=ExportSerializer)
    def get(self, request, export_id: int):
        export, _ = object_for(request.user, Export.objects.all(), export_id)
        return Response(ExportSerializer(export).data)


class ExportDownloadApi(APIView):
    """The finished file (reviewers and managers: it carries every annotator's work)."""

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiResponse(description="The file")}
    )
    def get(self, request, export_id: int):
        export, _ = object_for(request.user, Export.objects.all(), export_id, role=DOWNLOAD_ROLE)
        return download_response(export)


class ExportCancelApi(APIView):
    """Cancel a queued or running export (409 ``Conflict``, the export as ``current``,
    when it had already finished)."""

    @extend_schema(request=None, responses=ExportSerializer)
    def post(self, request, export_id: int):
        export, _ = object_for(request.user, Export.objects.all(), export_id, role=CREATE_ROLE)
        cancelled = services.export_cancel(export=export)
        export.refresh_from_db()
        if not cancelled:
            raise Conflict("The export has already finished.", state=ExportSerializer(export).data)
        return Response(ExportSerializer(export).data)
