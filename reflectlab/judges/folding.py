"""Writing suggestions: a judge run's samples folded per trace, and the analyser's
own signals (the first wrong candidate answer; SRGen entropy spikes).

Both writes are idempotent (unique per (run, trace) and per (trace, analyser
signal), ``ignore_conflicts``), so a retaken item or a second call adds nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from reflectlab.judges import consensus
from reflectlab.judges.models import Judge, JudgeItem, JudgeRun, JudgeSample, ParseState, Suggestion
from reflectlab.traces.models import Trace

SAMPLE_FIELDS = ("trace_id", "sample_index", "parse_state", "parse_error", "parsed", "raw_output")
RAW_CHARS = 4000  # per sample in Suggestion.raw; the full text stays on the JudgeSample

SIGNAL_OF_KIND = {
    Judge.Kind.CRITIC: Suggestion.Signal.FIRST_ERROR,
    Judge.Kind.STEP_LABELS: Suggestion.Signal.STEP_LABELS,
    Judge.Kind.CRITIQUE: Suggestion.Signal.CRITIQUE,
    Judge.Kind.HINT: Suggestion.Signal.HINT,
}


def suggestions_fold(
    *, run: JudgeRun, trace_ids: Iterable[int], written: list[JudgeSample] | None = None
) -> int:
    """Fold the samples of every given trace whose items are all finished.

    ``written``: samples just written by the caller; with one sample per trace
    (the usual judge run) they are all there is, and are not read back.
    """
    trace_ids = set(trace_ids)
    single = run.samples_per_trace == 1 and written is not None
    open_ids = set()
    if not single:  # with one item per trace, the caller's finished items are the traces'
        open_ids = set(
            JudgeItem.objects.filter(
                run_id=run.pk,
                trace_id__in=trace_ids,
                state__in=[JudgeItem.State.PENDING, JudgeItem.State.RUNNING],
            ).values_list("trace_id", flat=True)
        )
    complete = trace_ids - open_ids
    if not complete:
        return 0
    by_trace: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if single:
        for sample in written:
            if sample.trace_id in complete:
                by_trace[sample.trace_id].append(
                    {name: getattr(sample, name) for name in SAMPLE_FIELDS}
                )
    else:
        for row in (
            JudgeSample.objects.filter(run_id=run.pk, trace_id__in=complete)
            .order_by("trace_id", "sample_index")
            .values(*SAMPLE_FIELDS)
        ):
            by_trace[row["trace_id"]].append(row)
    kind = run.judge.kind
    suggestions = []
    for trace_id, rows in by_trace.items():
        folded = consensus.fold(
            kind, [{"ok": r["parse_state"] == ParseState.PARSED, **r["parsed"]} for r in rows]
        )
        suggestions.append(
            Suggestion(
                project_id=run.project_id,
                trace_id=trace_id,
                source=Suggestion.Source.JUDGE,
                signal=SIGNAL_OF_KIND[kind],
                judge_id=run.judge_id,
                run_id=run.pk,
                prompt_id=run.prompt_id,
                prompt_version=run.prompt.version,
                parse_state=ParseState.PARSED if folded.parsed else ParseState.UNPARSEABLE,
                first_error_step=folded.first_error,
                step_labels=folded.labels,
                verdict=folded.verdict,
                critique=folded.critique,
                hint=folded.hint,
                hint_step=folded.hint_step,
                confidence=folded.confidence,
                samples=folded.samples,
                samples_parsed=folded.samples_parsed,
                raw={
                    "samples": [
                        {
                            "index": r["sample_index"],
                            "output": r["raw_output"][:RAW_CHARS],
                            "truncated": len(r["raw_output"]) > RAW_CHARS,
                            "parse_state": r["parse_state"],
                            "parse_error": r["parse_error"],
                            "parsed": r["parsed"],
                        }
                        for r in rows
                    ]
                },
            )
        )
    Suggestion.objects.bulk_create(suggestions, ignore_conflicts=True)
    return len(suggestions)


# -- the analyser's signals ------------------------------------------------------


def _token_offsets(logprobs: list[Any]) -> list[int] | None:
    """Character offset of each token in the generated text (from the token strings)."""
    offsets, pos = [], 0
    for entry in logprobs:
        token = entry.get("token") if isinstance(entry, dict) else None
        if not isinstance(token, str):
            return None
        offsets.append(pos)
        pos += len(token)
    return offsets


def _step_at(steps: list[dict[str, Any]], offset: int) -> int | None:
    for step in steps:
        if step["start"] <= offset < step["end"]:
            return step["index"]
    return None


def analyser_signals(trace: Trace) -> list[Suggestion]:
    """The analyser's suggestions for one trace (unsaved), from its stored analysis.

    * ``wrong_candidate`` — the step of the first graded-wrong candidate answer:
      the first error is there or before it (First Try Matters reads the first
      answer the same way).
    * ``uncertainty`` — the steps holding SRGen-flagged tokens, when the trace
      has logprobs (token offsets from the token strings, which index the
      generated text; a trace whose thinking came in a separate field gets none).
    """
    analysis = trace.analysis or {}
    steps = analysis.get("steps") or []
    out = []
    wrong = next((c for c in analysis.get("candidates") or [] if c.get("correct") is False), None)
    if wrong is not None and wrong.get("step") is not None:
        out.append(
            Suggestion(
                project_id=trace.project_id,
                trace_id=trace.pk,
                source=Suggestion.Source.ANALYSER,
                signal=Suggestion.Signal.WRONG_CANDIDATE,
                parse_state=ParseState.PARSED,
                first_error_step=wrong["step"],
                raw={"candidate": {k: wrong.get(k) for k in ("value", "start", "end", "kind")}},
            )
        )
    flagged = (analysis.get("uncertainty") or {}).get("flagged") or []
    source = (analysis.get("extraction") or {}).get("source")
    offsets = _token_offsets(trace.logprobs) if flagged and trace.logprobs else None
    if offsets and source != "reasoning_field":
        hit = sorted(
            {
                s
                for t in flagged
                if t < len(offsets) and (s := _step_at(steps, offsets[t])) is not None
            }
        )
        if hit:
            out.append(
                Suggestion(
                    project_id=trace.project_id,
                    trace_id=trace.pk,
                    source=Suggestion.Source.ANALYSER,
                    signal=Suggestion.Signal.UNCERTAINTY,
                    parse_state=ParseState.PARSED,
                    flagged_steps=hit,
                    raw={"flagged_tokens": flagged[:200]},
                )
            )
    return out


def analyser_suggestions_ensure(*, traces: Iterable[Trace]) -> int:
    """Write the analyser's suggestions for these traces (idempotent)."""
    suggestions = [s for trace in traces for s in analyser_signals(trace)]
    Suggestion.objects.bulk_create(suggestions, ignore_conflicts=True)
    return len(suggestions)
