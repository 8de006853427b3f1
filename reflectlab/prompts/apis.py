from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from reflectlab.api.pagination import IdCursorPagination
from reflectlab.core.access import project_for
from reflectlab.projects.models import Role
from reflectlab.prompts import selectors, services
from reflectlab.prompts.models import ImportJob, Prompt


class PromptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prompt
        fields = [
            "id",
            "external_id",
            "text",
            "messages",
            "reference_answer",
            "metadata",
            "created_at",
        ]


class ImportJobSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "state",
            "original_name",
            "file_format",
            "mapping",
            "allow_partial",
            "bytes_total",
            "bytes_done",
            "rows_written",
            "rows_skipped",
            "rows_rejected",
            "errors",
            "created_at",
            "finished_at",
        ]


class ImportInputSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=["jsonl", "csv"], required=False)
    mapping = serializers.JSONField(required=False, help_text='e.g. {"prompt": "question"}')
    allow_partial = serializers.BooleanField(required=False, default=False)

    def validate_file(self, upload):
        if upload.size > settings.REFLECTLAB_MAX_UPLOAD_BYTES:
            raise serializers.ValidationError("The file is larger than the upload limit.")
        return upload

    def validate_mapping(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("The mapping must be an object of target: source.")
        return value

    def validate(self, attrs):
        if "format" not in attrs:
            attrs["format"] = "csv" if attrs["file"].name.lower().endswith(".csv") else "jsonl"
        return attrs


class PromptListApi(ListAPIView):
    """Prompts of a project (``?q=`` searches text and external id).

    Keyset pages in id order: follow ``next`` (a ``cursor``).
    """

    serializer_class = PromptSerializer
    pagination_class = IdCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Prompt.objects.none()
        project, _ = project_for(self.request.user, self.kwargs["project_id"])
        q = str(self.request.query_params.get("q", ""))[:200]
        return selectors.prompt_list(project=project, q=q, counted=False)


class ImportApi(APIView):
    """Upload a JSONL/CSV file; the report lists rejected lines by number.

    Small files are imported before the response (201 with the report); large
    ones go to a worker (202; poll ``imports/{id}``).
    """

    parser_classes = [MultiPartParser, FormParser]
    kind = ImportJob.Kind.PROMPTS

    @extend_schema(request=ImportInputSerializer, responses=ImportJobSerializer)
    def post(self, request, project_id: int):
        project, _ = project_for(request.user, project_id, role=Role.MANAGER)
        data = ImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            job = services.import_job_create(
                project=project,
                user=request.user,
                upload=data.validated_data["file"],
                kind=self.kind,
                file_format=data.validated_data["format"],
                mapping=data.validated_data.get("mapping"),
                allow_partial=data.validated_data["allow_partial"],
            )
        except ValueError as exc:
            raise serializers.ValidationError({"mapping": [str(exc)]}) from None
        code = (
            status.HTTP_202_ACCEPTED
            if not job.is_terminal
            else (
                status.HTTP_201_CREATED
                if job.state == ImportJob.State.SUCCEEDED
                else status.HTTP_400_BAD_REQUEST
            )
        )
        return Response(ImportJobSerializer(job).data, status=code)


class TraceImportApi(ImportApi):
    kind = ImportJob.Kind.TRACES


class ImportJobApi(APIView):
    @extend_schema(responses=ImportJobSerializer)
    def get(self, request, project_id: int, job_id: int):
        project, _ = project_for(request.user, project_id, role=Role.MANAGER)
        try:
            job = project.import_jobs.get(pk=job_id)
        except ImportJob.DoesNotExist:
            from django.http import Http404

            raise Http404 from None
        return Response(ImportJobSerializer(job).data)
