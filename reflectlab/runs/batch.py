"""Batch generation: a run's requests out as OpenAI Batch JSONL, the results file back in.

The request file has one line per unfinished item —
``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`` — the
input of ``vllm run-batch``, the OpenAI and Together batch APIs. The results
file (``{"id", "custom_id", "response": {"status_code", "body"}, "error"}`` per
line, any order) comes back as the run's traces, matched on ``custom_id``:

* idempotent — an item already done is skipped, so importing a file twice adds
  nothing (the trace's unique (run, prompt, sample_index) guards it as well);
* a line with an ``error`` or an HTTP status >= 400 marks its item failed with
  the server's message; a later file may still bring the item's answer;
* a line that is not JSON or names no item of this run is reported by line
  number and changes nothing.

``batch_remote`` submits the file to an OpenAI-compatible ``/v1/files`` +
``/v1/batches`` endpoint and polls it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson
from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from reflectlab.core.limits import MAX_ERROR_CHARS
from reflectlab.core.storage import uploads_storage
from reflectlab.providers.base import Sampling
from reflectlab.providers.registry import sampling_for
from reflectlab.runs.execution import chat_messages
from reflectlab.runs.models import Run, RunItem
from reflectlab.runs.services import items_ensure, run_finalize
from reflectlab.traces.models import Trace
from reflectlab.traces.services import trace_analyze

CHAT_URL = "/v1/chat/completions"
IMPORT_BATCH = 256
MAX_REPORTED_ERRORS = 1000
CUSTOM_ID = re.compile(r"^run-(\d+)-prompt-(\d+)-sample-(\d+)$")


def custom_id(*, run_id: int, prompt_id: int, sample_index: int) -> str:
    return f"run-{run_id}-prompt-{prompt_id}-sample-{sample_index}"


def chat_body(sampling: Sampling, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The body ``OpenAIHttpProvider`` posts to ``/chat/completions`` (a test keeps them equal)."""
    body: dict[str, Any] = {
        "model": sampling.model,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
    }
    if sampling.seed is not None:
        body["seed"] = sampling.seed
    body["messages"] = messages
    if sampling.logprobs:
        body["logprobs"] = True
        if sampling.top_logprobs:
            body["top_logprobs"] = sampling.top_logprobs
    return {**body, **sampling.extra_body}


def run_batch_start(*, run: Run) -> Run:
    """Queued → running (compare-and-set) and make the items; safe to call again."""
    if run.mode != Run.Mode.BATCH:
        raise ValueError("Only a batch run exports its requests as a batch file.")
    Run.objects.filter(pk=run.pk, state=Run.State.QUEUED).update(
        state=Run.State.RUNNING, started_at=timezone.now()
    )
    run.refresh_from_db()
    if run.state == Run.State.RUNNING:
        items_ensure(run)
    return run


def run_batch_requests(*, run: Run) -> Iterator[bytes]:
    """The OpenAI Batch JSONL lines of the run's unfinished items, streamed."""
    run = run_batch_start(run=run)
    sampling = sampling_for(run.model_config)
    items = (
        RunItem.objects.filter(
            run_id=run.pk, state__in=[RunItem.State.PENDING, RunItem.State.RUNNING]
        )
        .select_related("prompt")
        .order_by("id")
    )
    for item in items.iterator(chunk_size=500):
        line = {
            "custom_id": custom_id(
                run_id=run.pk, prompt_id=item.prompt_id, sample_index=item.sample_index
            ),
            "method": "POST",
            "url": CHAT_URL,
            "body": chat_body(sampling, chat_messages(run.model_config, item.prompt)),
        }
        yield orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)


@dataclass
class _Result:
    line: int
    key: tuple[int, int]  # (prompt_id, sample_index)
    body: dict[str, Any] | None = None
    error: str = ""


def _server_error(record: dict[str, Any]) -> str:
    error = record.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or orjson.dumps(error).decode())
    if error:
        return str(error)
    response = record.get("response")
    if not isinstance(response, dict):
        return "The line has neither a response nor an error."
    status = response.get("status_code", 200)
    body = response.get("body")
    if not isinstance(status, int) or status >= 400:
        message = body.get("error") if isinstance(body, dict) else body
        if isinstance(message, dict):
            message = message.get("message") or orjson.dumps(message).decode()
        return f"HTTP {status}: {message}"
    if not isinstance(body, dict) or not body.get("choices"):
        return "The response has no choices."
    choice = body["choices"][0]
    if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
        return "The response's choice has no message."
    return ""


def _parse(run: Run, number: int, raw: bytes) -> tuple[_Result | None, str]:
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, "not JSON"
    if not isinstance(record, dict):
        return None, "not a JSON object"
    match = CUSTOM_ID.match(str(record.get("custom_id", "")))
    if match is None or int(match.group(1)) != run.pk:
        return None, f"custom_id {record.get('custom_id')!r} is not an item of run {run.pk}"
    result = _Result(line=number, key=(int(match.group(2)), int(match.group(3))))
    result.error = _server_error(record)
    if not result.error:
        result.body = record["response"]["body"]
    return result, ""


def _trace(run: Run, item: RunItem, body: dict[str, Any]) -> Trace:
    choice = body["choices"][0]
    message = choice["message"]
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    trace = Trace(
        project_id=run.project_id,
        prompt=item.prompt,
        origin=Trace.Origin.RUN,
        state=Trace.State.READY,
        run_id=run.pk,
        sample_index=item.sample_index,
        model_name=run.model_config.model,
        model_config_id=run.model_config_id,
        raw_response=str(message.get("content") or ""),
        reasoning=reasoning if isinstance(reasoning, str) else "",
        finish_reason=str(choice.get("finish_reason") or "")[:32],
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
    )
    return trace_analyze(trace=trace, save=False)  # analysed on arrival, as live runs


def _write(run: Run, results: list[_Result], report: dict[str, Any]) -> None:
    """Record one batch of results; only items not yet done change (compare-and-set)."""
    keys = {r.key for r in results}
    with transaction.atomic():
        open_items = RunItem.objects.filter(run_id=run.pk).exclude(state=RunItem.State.DONE)
        if connection.features.has_select_for_update:
            open_items = open_items.select_for_update(of=("self",))
        by_key = {
            (i.prompt_id, i.sample_index): i
            for i in open_items.select_related("prompt").filter(
                prompt_id__in={k[0] for k in keys}, sample_index__in={k[1] for k in keys}
            )
        }
        done: dict[int, Trace] = {}
        failed: dict[int, str] = {}
        was_failed = 0
        for result in results:
            item = by_key.get(result.key)
            if item is None or item.pk in done:
                report["rows_skipped"] += 1  # already done (a re-import), or twice in one file
                continue
            if result.body is not None:
                done[item.pk] = _trace(run, item, result.body)
                failed.pop(item.pk, None)
                was_failed += item.state == RunItem.State.FAILED
            elif item.state != RunItem.State.FAILED:
                failed[item.pk] = result.error[:MAX_ERROR_CHARS]
            else:
                report["rows_skipped"] += 1
        traces = list(done.values())
        Trace.objects.bulk_create(traces)
        now = timezone.now()
        if done:
            RunItem.objects.filter(pk__in=list(done)).update(
                state=RunItem.State.DONE,
                error="",
                holder="",
                lease_until=None,
                updated_at=now,
                trace_id=Subquery(
                    Trace.objects.filter(
                        run_id=OuterRef("run_id"),
                        prompt_id=OuterRef("prompt_id"),
                        sample_index=OuterRef("sample_index"),
                    ).values("pk")[:1]
                ),
            )
        for pk, error in failed.items():
            RunItem.objects.filter(pk=pk).update(
                state=RunItem.State.FAILED, error=error, holder="", updated_at=now
            )
        Run.objects.filter(pk=run.pk).update(
            items_done=F("items_done") + len(traces),
            items_failed=F("items_failed") + len(failed) - was_failed,
            tokens_prompt=F("tokens_prompt") + sum(t.prompt_tokens or 0 for t in traces),
            tokens_completion=F("tokens_completion")
            + sum(t.completion_tokens or 0 for t in traces),
        )
    report["rows_written"] += len(traces)
    report["rows_failed"] += len(failed)


def run_batch_import(*, run: Run, lines: Iterable[bytes]) -> dict[str, Any]:
    """Import a results file (its lines, streamed); return the report."""
    if run.mode != Run.Mode.BATCH:
        raise ValueError("Only a batch run takes a batch results file.")
    if run.state == Run.State.CANCELLED:
        raise ValueError("This run was cancelled.")
    # A finished batch run takes a later file (a retried batch): it reopens, and
    # ``run_finalize`` closes it again from the new counts.
    Run.objects.filter(pk=run.pk, state__in=[Run.State.SUCCEEDED, Run.State.FAILED]).update(
        state=Run.State.RUNNING, finished_at=None
    )
    run = run_batch_start(run=run)
    run = Run.objects.select_related("model_config").get(pk=run.pk)
    report: dict[str, Any] = {
        "rows_written": 0,
        "rows_failed": 0,
        "rows_skipped": 0,
        "rows_rejected": 0,
        "errors": [],
    }
    pending: list[_Result] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        result, problem = _parse(run, number, raw)
        if result is None:
            report["rows_rejected"] += 1
            if len(report["errors"]) < MAX_REPORTED_ERRORS:
                report["errors"].append({"line": number, "error": problem})
            continue
        pending.append(result)
        if len(pending) >= IMPORT_BATCH:
            _write(run, pending, report)
            pending = []
    if pending:
        _write(run, pending, report)
    run_finalize(run_id=run.pk)
    return report


def run_batch_close_missing(*, run: Run) -> int:
    """Items the finished batch gave no line for fail (honest counts); returns how many."""
    with transaction.atomic():
        missing = RunItem.objects.filter(
            run_id=run.pk, state__in=[RunItem.State.PENDING, RunItem.State.RUNNING]
        ).update(state=RunItem.State.FAILED, error="No result in the batch output.", holder="")
        Run.objects.filter(pk=run.pk).update(items_failed=F("items_failed") + missing)
    run_finalize(run_id=run.pk)
    return missing


def run_batch_import_file(*, run: Run, stream: IO[bytes]) -> dict[str, Any]:
    return run_batch_import(run=run, lines=iter(stream.readline, b""))


def run_batch_results_accept(*, run: Run, upload: File) -> dict[str, Any] | None:
    """A results file from the web: imported now when small (the report), else put in
    the ``uploads`` storage and imported on a worker (None)."""
    if run.mode != Run.Mode.BATCH or run.state == Run.State.CANCELLED:
        raise ValueError("Only a batch run that is not cancelled takes a results file.")
    if (upload.size or 0) <= settings.REFLECTLAB_SYNC_IMPORT_MAX_BYTES:
        upload.seek(0)
        return run_batch_import_file(run=run, stream=upload)
    key = uploads_storage().save(f"batch-results/{run.pk}/{uuid.uuid4().hex}.jsonl", upload)
    from reflectlab.runs.tasks import run_batch_import_task

    transaction.on_commit(lambda: run_batch_import_task.delay(run.pk, key))
    return None


def run_batch_import_stored(*, run_id: int, key: str) -> dict[str, Any]:
    """Import a results file from the ``uploads`` storage (a task; safe to repeat)."""
    run = Run.objects.get(pk=run_id)
    storage = uploads_storage()
    with storage.open(key, "rb") as stream:
        report = run_batch_import_file(run=run, stream=stream)
    storage.delete(key)
    return report


def run_batch_submit_enqueue(*, run: Run) -> None:
    """Hand the submission (then the polling) to a worker once the transaction commits."""
    if run.mode != Run.Mode.BATCH:
        raise ValueError("Only a batch run is submitted to a batch endpoint.")
    from reflectlab.runs.tasks import run_batch_submit_task

    run_batch_submit_task.delay_on_commit(run.pk)
