"""API of batch runs: the request file out, a results file in, submit to a batch endpoint."""

from __future__ import annotations

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from reflectlab.core.access import object_for
from reflectlab.core.errors import Conflict
from reflectlab.projects.models import Role
from reflectlab.runs import batch, selectors
from reflectlab.runs.models import Run


def batch_run_for(user, run_id: int) -> Run:
    run, _ = object_for(user, selectors.run_detail(run_id=run_id), run_id, role=Role.MANAGER)
    if run.mode != Run.Mode.BATCH:
        raise serializers.ValidationError({"run": "This is not a batch run."})
    return run


def requests_response(run: Run) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        batch.run_batch_requests(run=run), content_type="application/jsonl"
    )
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-batch-requests.jsonl"'
    response["Cache-Control"] = "private, no-store"
    return response


class BatchRequestsApi(APIView):
    """The run's unfinished requests as OpenAI Batch JSONL (``custom_id``, ``method``,
    ``url``, ``body``) for ``vllm run-batch`` or an OpenAI/Together batch."""

    @extend_schema(responses={(200, "application/jsonl"): OpenApiResponse(description="JSONL")})
    def get(self, request, run_id: int):
        return requests_response(batch_run_for(request.user, run_id))


class BatchResultsInputSerializer(serializers.Serializer):
    file = serializers.FileField()

    def validate_file(self, upload):
        if upload.size > settings.REFLECTLAB_MAX_UPLOAD_BYTES:
            raise serializers.ValidationError("The file is larger than the upload limit.")
        return upload


class BatchReportSerializer(serializers.Serializer):
    rows_written = serializers.IntegerField()
    rows_failed = serializers.IntegerField()
    rows_skipped = serializers.IntegerField()
    rows_rejected = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField())


class BatchResultsApi(APIView):
    """Import a batch results file, matched on ``custom_id`` (re-importing adds nothing).

    Small files answer 200 with the report; large ones 202 (imported on a worker).
    """

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=BatchResultsInputSerializer, responses={200: BatchReportSerializer})
    def post(self, request, run_id: int):
        run = batch_run_for(request.user, run_id)
        data = BatchResultsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            report = batch.run_batch_results_accept(run=run, upload=data.validated_data["file"])
        except ValueError as exc:
            raise serializers.ValidationError({"file": [str(exc)]}) from None
        if report is None:
            return Response({"detail": "Importing on a worker."}, status=status.HTTP_202_ACCEPTED)
        return Response(BatchReportSerializer(report).data)


class BatchSubmitApi(APIView):
    """Send the requests to the config's ``/v1/files`` + ``/v1/batches`` and poll (a task)."""

    @extend_schema(request=None, responses={202: None})
    def post(self, request, run_id: int):
        run = batch_run_for(request.user, run_id)
        if run.batch_id or run.is_terminal:
            raise Conflict("This run was already submitted or has finished.")
        batch.run_batch_submit_enqueue(run=run)
        return Response({"detail": "Submitting."}, status=status.HTTP_202_ACCEPTED)
