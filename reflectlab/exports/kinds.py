"""Export kinds (DESIGN §8): the rows each kind makes and the tables (configs) it fills.

A kind turns one source record (an annotation, or a trace for ``canonical``)
into rows of one or more *configs* — the bundle's ``data/<config>/`` folders.
The shared pieces live in ``schemas`` (columns), ``rows`` (row builders) and
``splits``.
"""

from __future__ import annotations

import pyarrow as pa

from reflectlab.exports.kind_base import Kind
from reflectlab.exports.rows import (
    SUBSET_FIELDS,
    branch_info,
    branch_problem,
    corrected_turns,
    critique_prompt,
    first_error,
    original_turn,
    original_wrong,
    prompt_text,
    prompt_turns,
    row_meta,
    step_texts,
    subset_of,
    trace_label,
)
from reflectlab.exports.schemas import (
    MESSAGE,
    PROCESSBENCH_SCHEMA,
    Config,
    Context,
    messages_type,
    with_meta,
)
from reflectlab.exports.splits import parse_splits
from reflectlab.exports.step_kinds import (
    REFLECTION_QUALITY,
    StepPreference,
    reflection_quality_rows,
    stepwise_meta,
)


class SftCorrected(Kind):
    name = "sft_corrected"
    needs_steps = True
    needs_branch = True

    def configs(self, ctx):
        msgs = messages_type(ctx)
        return [
            Config(
                "sft_corrected",
                with_meta(pa.field("messages", msgs)),
                "Conversational `messages`: the prompt and the hint-corrected trajectory "
                "(prefix + hint + continuation), reasoning in the assistant turn.",
            ),
            Config(
                "sft_corrected_prompt_completion",
                with_meta(pa.field("prompt", msgs), pa.field("completion", msgs)),
                "The same trajectories as conversational `prompt` / `completion`.",
            ),
        ]

    def rows(self, a, ctx, split):
        problem = branch_problem(a, ctx)
        if problem:
            ctx.skip(self.name, problem)
            return
        mode = ctx.hint_mode
        extra, completion = corrected_turns(a, ctx, mode)
        prompt = prompt_turns(a, ctx) + extra
        meta = row_meta(a, ctx, split, {"hint_mode": mode, **branch_info(a)})
        if mode != "user_turn":
            # user_turn puts the original wrong answer in an assistant turn of the prompt:
            # as `messages`, SFTTrainer would train on it (assistant_only_loss too), so that
            # mode writes only prompt/completion, whose loss covers the completion alone.
            yield "sft_corrected", {"messages": prompt + completion, **meta}
        yield (
            "sft_corrected_prompt_completion",
            {"prompt": prompt, "completion": completion, **meta},
        )


class Preference(Kind):
    name = "preference"
    needs_steps = True
    needs_branch = True

    def configs(self, ctx):
        msgs = messages_type(ctx)
        return [
            Config(
                "preference",
                with_meta(
                    pa.field("prompt", msgs), pa.field("chosen", msgs), pa.field("rejected", msgs)
                ),
                "Explicit-prompt conversational pairs: chosen = hint-corrected trajectory, "
                "rejected = the original wrong trace.",
            )
        ]

    def rows(self, a, ctx, split):
        problem = branch_problem(a, ctx) or (
            None if original_wrong(a) else "have an original trace not marked wrong"
        )
        if problem:
            ctx.skip(self.name, problem)
            return
        mode = ctx.hint_mode
        _, chosen = corrected_turns(a, ctx, "stripped" if mode == "user_turn" else mode)
        meta = row_meta(a, ctx, split, {"hint_mode": mode, **branch_info(a)})
        yield (
            "preference",
            {
                "prompt": prompt_turns(a, ctx),
                "chosen": chosen,
                "rejected": [original_turn(a, ctx)],
                **meta,
            },
        )


class Unpaired(Kind):
    name = "unpaired"
    needs_steps = True
    needs_branch = True

    def configs(self, ctx):
        msgs = messages_type(ctx)
        return [
            Config(
                "unpaired",
                with_meta(
                    pa.field("prompt", msgs),
                    pa.field("completion", msgs),
                    pa.field("label", pa.bool_()),
                ),
                "KTO rows: `prompt` / `completion` / `label` (desirable or not), from "
                "verdicts on whole traces and from graded corrected branches.",
            )
        ]

    def rows(self, a, ctx, split):
        label = trace_label(a)
        if label is not None:
            yield (
                "unpaired",
                {
                    "prompt": prompt_turns(a, ctx),
                    "completion": [original_turn(a, ctx)],
                    "label": label,
                    **row_meta(a, ctx, split, {"source": "trace"}),
                },
            )
        if (
            a["branch_id"]
            and a.get("branch__state") == "ready"
            and a["branch__final_correct"] is not None
            and not a["branch__truncated"]
        ):
            mode = ctx.hint_mode
            _, completion = corrected_turns(a, ctx, "stripped" if mode == "user_turn" else mode)
            yield (
                "unpaired",
                {
                    "prompt": prompt_turns(a, ctx),
                    "completion": completion,
                    "label": a["branch__final_correct"],
                    **row_meta(a, ctx, split, {"source": "branch", **branch_info(a)}),
                },
            )
        elif label is None:
            ctx.skip(self.name, "have no verdict, first-error mark, graded answer or graded branch")


class Stepwise(Kind):
    name = "stepwise"
    needs_steps = True
    extra_fields = ("trace__analysis__episodes", *SUBSET_FIELDS)

    def configs(self, ctx):
        return [
            Config(
                "stepwise",
                with_meta(
                    pa.field("prompt", pa.string()),
                    pa.field("completions", pa.list_(pa.string())),
                    pa.field("labels", pa.list_(pa.bool_())),
                ),
                "Step labels up to and including the first wrong step (later steps cut, "
                "as PRM800K): `prompt` / `completions` / `labels` (bool).",
            ),
            Config(
                "processbench",
                PROCESSBENCH_SCHEMA,
                "ProcessBench-shaped rows `{id, generator, problem, steps, "
                "final_answer_correct, label, subset}`; label = first wrong step, -1 if none.",
            ),
            REFLECTION_QUALITY,
        ]

    def rows(self, a, ctx, split):
        yield from reflection_quality_rows(a, ctx, split)
        fe = first_error(a)
        steps = step_texts(a)
        if fe is None or not steps or fe >= len(steps):
            ctx.skip(
                self.name,
                "have no first-error mark or bad step label"
                if fe is None
                else "have no analysed steps"
                if not steps
                else "mark a first error past the last step",
            )
            return
        neutral_ok = bool(ctx.options.get("neutral_is_good", True))
        labels_raw = a["step_labels"] or {}
        cut = steps if fe == -1 else steps[: fe + 1]
        labels = []
        for i in range(len(cut)):
            if i == fe:
                labels.append(False)
                continue
            value = labels_raw.get(str(i), 1)
            labels.append(value == 1 or (value == 0 and neutral_ok))
        yield (
            "stepwise",
            {
                "prompt": prompt_text(a),
                "completions": cut,
                "labels": labels,
                **row_meta(a, ctx, split, stepwise_meta(a)),
            },
        )
        final = a["trace__final_correct"]
        yield (
            "processbench",
            {
                "id": a["trace__external_id"] or f"trace-{a['trace_id']}",
                "generator": a["trace__model_name"],
                "problem": prompt_text(a),
                "steps": steps,
                "final_answer_correct": final if final is not None else fe == -1,
                "label": fe,
                "subset": subset_of(a),
            },
        )


class Critique(Kind):
    name = "critique"

    def configs(self, ctx):
        msgs = pa.list_(MESSAGE)
        return [
            Config(
                "critique",
                with_meta(pa.field("prompt", msgs), pa.field("completion", msgs)),
                "Critique SFT: the judge prompt and the expert critique ending "
                "'Conclusion: right/wrong'.",
            ),
            Config(
                "critique_rl",
                with_meta(pa.field("prompt", msgs), pa.field("ground_truth_judgment", pa.string())),
                "Critique RL rows: the judge prompt and `ground_truth_judgment` (right/wrong).",
            ),
        ]

    def rows(self, a, ctx, split):
        if not a["verdict"] or not (a["critique"] or "").strip():
            ctx.skip(self.name, "have no verdict or no critique text")
            return
        judgment = "right" if a["verdict"] == "correct" else "wrong"
        text = a["critique"].strip()
        if a["violated_principles"]:
            text += "\n\nViolated principles:\n" + "\n".join(
                f"- {p}" for p in a["violated_principles"]
            )
        prompt = [{"role": "user", "content": critique_prompt(a, ctx)}]
        meta = row_meta(a, ctx, split)
        completion = [{"role": "assistant", "content": f"{text}\n\nConclusion: {judgment}"}]
        yield "critique", {"prompt": prompt, "completion": completion, **meta}
        yield "critique_rl", {"prompt": prompt, "ground_truth_judgment": judgment, **meta}


class Canonical(Kind):
    """One lossless record per trace; Parquet keeps it as a JSON string column."""

    name = "canonical"
    source = "traces"

    def configs(self, ctx):
        return [
            Config(
                "canonical",
                pa.schema(
                    [
                        pa.field("trace_id", pa.int64()),
                        pa.field("prompt_external_id", pa.string()),
                        pa.field("meta_split", pa.string()),
                        pa.field("record", pa.string()),
                    ]
                ),
                "Everything, lossless: one JSON record per trace (`record`) with its "
                "analysis, annotations, reviews and branches.",
            )
        ]

    def rows(self, record, ctx, split):
        yield "canonical", record


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        SftCorrected(),
        Preference(),
        Unpaired(),
        Stepwise(),
        StepPreference(),
        Critique(),
        Canonical(),
    )
}

# Plain (one-file) exports pick one config of their kind.
VARIANTS = {
    kind.name: [c.name for c in kind.configs(Context({}, parse_splits(None)))]
    for kind in KINDS.values()
}
