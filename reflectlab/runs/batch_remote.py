"""Submitting a batch run to an OpenAI-compatible ``/v1/files`` + ``/v1/batches`` API.

``run_batch_submit`` uploads the request file (spooled to disk, never held in
memory) and creates the batch; ``run_batch_poll`` asks for its status and,
once it is ``completed``, streams the output and error files into
``batch.run_batch_import``. The server's ids and status are kept on the run,
so a worker that dies between two polls loses nothing: the next poll goes on.
"""

from __future__ import annotations

import tempfile
from typing import Any

import httpx
from django.db import transaction

from reflectlab.core.limits import MAX_ERROR_CHARS
from reflectlab.providers.registry import api_key_for
from reflectlab.runs.batch import (
    CHAT_URL,
    run_batch_close_missing,
    run_batch_import,
    run_batch_requests,
)
from reflectlab.runs.models import Run

TERMINAL_FAILURES = {"failed", "expired", "cancelled", "cancelling"}
TIMEOUT = httpx.Timeout(120.0, connect=10.0)


class BatchError(Exception):
    pass


def _client(run: Run) -> httpx.Client:
    config = run.model_config
    if not config.base_url:
        raise BatchError("The model config has no base URL.")
    key = api_key_for(config)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=config.base_url.rstrip("/"), headers=headers, timeout=TIMEOUT)


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise BatchError(f"HTTP {response.status_code}: {response.text[:MAX_ERROR_CHARS]}")
    try:
        data = response.json()
    except ValueError:
        raise BatchError(f"Not JSON: {response.text[:200]!r}") from None
    if not isinstance(data, dict):
        raise BatchError("The server's answer is not a JSON object.")
    return data


def run_batch_submit(*, run_id: int) -> Run:
    """Upload the run's requests and create the batch (once: a submitted run is left alone)."""
    run = Run.objects.select_related("model_config").get(pk=run_id)
    if run.batch_id or run.is_terminal:
        return run
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        for line in run_batch_requests(run=run):
            spool.write(line)
        spool.seek(0)
        with _client(run) as client:
            uploaded = _json(
                client.post(
                    "/files",
                    data={"purpose": "batch"},
                    files={"file": (f"run-{run.pk}.jsonl", spool, "application/jsonl")},
                )
            )
            batch = _json(
                client.post(
                    "/batches",
                    json={
                        "input_file_id": uploaded.get("id"),
                        "endpoint": CHAT_URL,
                        "completion_window": "24h",
                        "metadata": {"reflectlab_run": str(run.pk)},
                    },
                )
            )
    if not batch.get("id"):
        raise BatchError("The server created a batch without an id.")
    with transaction.atomic():
        Run.objects.filter(pk=run.pk, batch_id="").update(
            batch_id=str(batch["id"])[:200], batch_status=str(batch.get("status", ""))[:32]
        )
    run.refresh_from_db()
    return run


def _stream_file(client: httpx.Client, file_id: str):
    with client.stream("GET", f"/files/{file_id}/content") as response:
        if response.status_code >= 400:
            raise BatchError(f"HTTP {response.status_code} reading file {file_id}")
        yield from response.iter_lines()


def run_batch_poll(*, run_id: int) -> str:
    """Ask for the batch's status; import its results when completed. Returns the status."""
    run = Run.objects.select_related("model_config").get(pk=run_id)
    if not run.batch_id:
        raise BatchError("This run has not been submitted.")
    if run.is_terminal:
        return run.batch_status
    with _client(run) as client:
        batch = _json(client.get(f"/batches/{run.batch_id}"))
        status = str(batch.get("status", ""))[:32]
        Run.objects.filter(pk=run.pk).update(batch_status=status)
        if status in TERMINAL_FAILURES:
            Run.objects.filter(pk=run.pk, state__in=[Run.State.QUEUED, Run.State.RUNNING]).update(
                state=Run.State.FAILED, error_summary=f"The batch ended {status}."
            )
            return status
        if status != "completed":
            return status
        for key in ("output_file_id", "error_file_id"):
            if batch.get(key):
                lines = (line.encode() for line in _stream_file(client, str(batch[key])))
                run_batch_import(run=run, lines=lines)
    run_batch_close_missing(run=run)
    return status
