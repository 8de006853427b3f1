"""A judge run executes on the runs' engine (``reflectlab.runs.execution``).

``JudgeExecutor`` is the runs' ``Executor`` with another unit of work: a
``JudgeItem`` (trace, sample) instead of a ``RunItem`` (prompt, sample), a
``JudgeSample`` instead of a ``Trace``. Everything else — threads, endpoint
slots shared by every worker, retries with backoff and jitter, leases and
heartbeats, batched writes, cancellation seen within a quarter second — is the
runs' code, unchanged. The request is the judge's prompt rendered for the
trace; the answer is parsed in the worker thread and stored with the raw text.
When a trace's last sample is written, its samples are folded into a
suggestion in the same transaction (``folding``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from reflectlab.judges import folding, parsing, templates
from reflectlab.judges.models import JudgeItem, JudgeRun, JudgeSample, ParseState
from reflectlab.providers.base import Generation, GenerationRequest, Provider
from reflectlab.runs import leases
from reflectlab.runs.execution import Executor, Outcome
from reflectlab.traces.models import Trace

RUNNING = JudgeItem.State.RUNNING
# What a thread needs to render the request and parse the answer.
ITEM_FIELDS = (
    "id", "run_id", "trace_id", "sample_index", "state", "error",
    "trace__id", "trace__raw_response", "trace__reasoning", "trace__analysis",
    "trace__prompt__id", "trace__prompt__text", "trace__prompt__messages",
    "trace__prompt__reference_answer",
)  # fmt: skip


def trace_steps(trace: Trace) -> list[str]:
    text = trace.step_text
    return [text[s["start"] : s["end"]] for s in (trace.analysis or {}).get("steps") or []]


def judge_messages(*, run: JudgeRun, trace: Trace) -> list[dict[str, Any]]:
    """The chat request for one trace: the config's system prompt, then the rendered template."""
    prompt = trace.prompt
    content = templates.render(
        run.prompt.template,
        problem=prompt.display_text,
        steps=trace_steps(trace),
        reference=prompt.reference_answer or "",
    )
    messages = [{"role": "user", "content": content}]
    if run.model_config.system_prompt:
        messages.insert(0, {"role": "system", "content": run.model_config.system_prompt})
    return messages


class JudgeExecutor(Executor):
    def __init__(self, run: JudgeRun, provider: Provider, threads: int):
        super().__init__(run, provider, threads)
        self.kind = run.judge.kind

    def _heartbeat(self) -> leases.Heartbeat:
        return leases.Heartbeat(self.holder, item_models=(JudgeItem,))

    def _still_running(self) -> bool:
        return JudgeRun.objects.filter(pk=self.run.pk, state=JudgeRun.State.RUNNING).exists()

    def _request(self, item: JudgeItem) -> GenerationRequest:
        return GenerationRequest(
            sampling=self.sampling, messages=judge_messages(run=self.run, trace=item.trace)
        )

    def _trace(self, item: JudgeItem, generation: Generation) -> JudgeSample:
        n_steps = len((item.trace.analysis or {}).get("steps") or [])
        # PostgreSQL text and jsonb cannot hold NUL; a model can send one.
        content = generation.content.replace("\x00", "\ufffd")
        reasoning = generation.reasoning.replace("\x00", "\ufffd")
        text = content
        if reasoning and "</think>" not in text:
            text = f"{reasoning}\n</think>\n{text}"  # parse the answer, not the thinking
        parsed = parsing.parse(self.kind, text, n_steps=n_steps)
        return JudgeSample(
            run_id=self.run.pk,
            trace_id=item.trace_id,
            sample_index=item.sample_index,
            raw_output=content,
            reasoning=reasoning,
            parse_state=ParseState.PARSED if parsed.ok else ParseState.UNPARSEABLE,
            parse_error=parsed.error,
            parsed=parsed.to_dict(),
            finish_reason=generation.finish_reason[:32],
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.completion_tokens,
            latency_ms=generation.latency_ms,
        )

    def _dead_holders(self) -> list[str]:
        holders = set(
            JudgeItem.objects.filter(run_id=self.run.pk, state=RUNNING)
            .exclude(holder=self.holder)
            .values_list("holder", flat=True)
            .distinct()
        )
        return leases.dead_holders(holders)

    def _claim(self, n: int) -> list[JudgeItem]:
        claimable = Q(state=JudgeItem.State.PENDING) | Q(
            state=RUNNING, lease_until__lt=timezone.now()
        )
        dead = self._dead_holders()
        if dead:
            claimable |= Q(state=RUNNING, holder__in=dead)
        with transaction.atomic():
            queryset = JudgeItem.objects.filter(
                run_id=self.run.pk, run__state=JudgeRun.State.RUNNING
            ).filter(claimable)
            if self.skip_locked:
                queryset = queryset.select_for_update(skip_locked=True, of=("self",))
            items = list(
                queryset.order_by("id")
                .select_related("trace__prompt")
                .only(*ITEM_FIELDS)[
                    # not the trace's logprobs or columns: a row per request
                    :n
                ]
            )
            if items:
                JudgeItem.objects.filter(pk__in=[i.pk for i in items]).update(
                    state=RUNNING, holder=self.holder, lease_until=leases.lease_expiry()
                )
        return items

    def _others_outstanding(self) -> bool:
        return (
            JudgeItem.objects.filter(
                run_id=self.run.pk, state=RUNNING, run__state=JudgeRun.State.RUNNING
            )
            .exclude(holder=self.holder)
            .exists()
        )

    def _write(self, batch: list[Outcome]) -> None:
        """Record finished items still claimed by us (compare-and-set), their samples,
        the run's counters, and the suggestions of traces whose samples are all in."""
        with transaction.atomic():
            batch = self._ours(batch, JudgeItem)
            if not batch:
                return
            samples = [o.trace for o in batch if o.trace is not None]
            JudgeSample.objects.bulk_create(samples)
            now = timezone.now()
            for (state, attempts, error), pks in self._groups(batch, JudgeItem).items():
                JudgeItem.objects.filter(pk__in=pks).update(
                    state=state, attempts=attempts, error=error, holder="", lease_until=None,
                    updated_at=now,
                )  # fmt: skip
            JudgeRun.objects.filter(pk=self.run.pk).update(
                items_done=F("items_done") + len(samples),
                items_failed=F("items_failed")
                + sum(1 for o in batch if o.trace is None and not o.cancelled),
                items_unparsed=F("items_unparsed")
                + sum(1 for s in samples if s.parse_state == ParseState.UNPARSEABLE),
                tokens_prompt=F("tokens_prompt") + sum(s.prompt_tokens or 0 for s in samples),
                tokens_completion=F("tokens_completion")
                + sum(s.completion_tokens or 0 for s in samples),
                latency_total_ms=F("latency_total_ms") + sum(s.latency_ms or 0 for s in samples),
            )
            folding.suggestions_fold(
                run=self.run, trace_ids={o.item.trace_id for o in batch}, written=samples
            )
