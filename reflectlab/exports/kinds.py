"""Export kinds (DESIGN §8): the rows each kind makes and their explicit Arrow schemas.

A kind turns one source record (an annotation, or a trace for ``canonical``)
into rows of one or more *configs* — the bundle's ``data/<config>/`` folders.
Column names follow TRL; provenance rides in ``meta_*`` scalars plus one
``meta_json`` string, and no column that changes a trainer's behaviour
(``labels`` outside stepwise, ``label`` outside KTO/ProcessBench, ``margin``,
``input_ids``, ``text``, ``messages`` outside SFT …) is ever emitted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from reflectlab.exports.text import (
    assistant_message,
    branch_parts,
    copies_prefix,
    paragraphs,
    split_thinking,
)

SCHEMA_VERSION = 1

HINT_MODES = ("inline", "stripped", "user_turn")
REASONING_STYLES = ("think_tags", "reasoning_content")
BRANCH_FILTERS = ("correct", "finished")

FORBIDDEN_COLUMNS = {"margin", "input_ids", "tools", "images", "conversations", "text"}

_MSG = pa.struct([("role", pa.string()), ("content", pa.string())])
_MSG_R = pa.struct(
    [("role", pa.string()), ("content", pa.string()), ("reasoning_content", pa.string())]
)

META_FIELDS = [
    pa.field("meta_trace_id", pa.int64()),
    pa.field("meta_prompt_id", pa.int64()),
    pa.field("meta_prompt_external_id", pa.string()),
    pa.field("meta_annotation_id", pa.int64()),
    pa.field("meta_annotator", pa.string()),
    pa.field("meta_model", pa.string()),
    pa.field("meta_run_id", pa.int64()),
    pa.field("meta_branch_trace_id", pa.int64()),
    pa.field("meta_split", pa.string()),
    pa.field("meta_json", pa.string()),
]

PROCESSBENCH_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("generator", pa.string()),
        pa.field("problem", pa.string()),
        pa.field("steps", pa.list_(pa.string())),
        pa.field("final_answer_correct", pa.bool_()),
        pa.field("label", pa.int64()),
    ]
)


@dataclass(frozen=True)
class Config:
    """One table of an export: a bundle folder, or the single file of a plain export."""

    name: str
    schema: pa.Schema
    description: str


@dataclass
class Context:
    """An export's options, with the ones every row reads looked up once."""

    options: dict[str, Any]
    splits: list[tuple[str, float]]
    principles: list[str] = field(default_factory=list)
    reasoning_key: bool = field(init=False)
    hint_mode: str = field(init=False)
    correct_branches_only: bool = field(init=False)

    def __post_init__(self) -> None:
        self.reasoning_key = self.options.get("reasoning") == "reasoning_content"
        self.hint_mode = self.options.get("hint_mode", "inline")
        self.correct_branches_only = self.options.get("branch_filter", "correct") == "correct"


def _schema(*fields: pa.Field) -> pa.Schema:
    return pa.schema([*fields, *META_FIELDS])


def _messages(ctx: Context) -> pa.DataType:
    return pa.list_(_MSG_R if ctx.reasoning_key else _MSG)


# --- splits --------------------------------------------------------------------


def parse_splits(value: Any) -> list[tuple[str, float]]:
    """``{"train": 0.9, "test": 0.1}`` → ordered (name, ratio) pairs summing to 1."""
    if not value:
        return [("train", 0.9), ("test", 0.1)]
    pairs = list(value.items()) if isinstance(value, dict) else [tuple(p) for p in value]
    out = []
    for name, ratio in pairs:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"Bad split name {name!r}.")
        ratio = float(ratio)
        if ratio < 0:
            raise ValueError("Split ratios must be ≥ 0.")
        out.append((name, ratio))
    total = sum(r for _, r in out)
    if not out or total <= 0:
        raise ValueError("Give at least one split with a positive ratio.")
    return [(name, ratio / total) for name, ratio in out]


def split_of(prompt_key: str, splits: list[tuple[str, float]], seed: str = "") -> str:
    """A split chosen by a hash of the prompt's id: every row of a problem lands together."""
    return splitter(splits, seed)(prompt_key)


def splitter(splits: list[tuple[str, float]], seed: str = "") -> Callable[[str], str]:
    """``split_of`` for one export: the seed and the running ratio sums computed once."""
    head = f"{seed}\x00".encode()
    bounds = []
    acc = 0.0
    for name, ratio in splits:
        acc += ratio
        bounds.append((acc, name))
    last = splits[-1][0]
    sha256 = hashlib.sha256

    def split(prompt_key: str) -> str:
        digest = sha256(head + prompt_key.encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64
        for bound, name in bounds:
            if point < bound:
                return name
        return last

    return split


# --- source fields -------------------------------------------------------------

ANNOTATION_FIELDS = [
    "id",
    "trace_id",
    "annotator__username",
    "step_labels",
    "first_error_step",
    "error_category",
    "hint",
    "hint_step",
    "branch_id",
    "critique",
    "verdict",
    "violated_principles",
    "trace__prompt_id",
    "trace__prompt__external_id",
    "trace__prompt__text",
    "trace__prompt__messages",
    "trace__external_id",
    "trace__model_name",
    "trace__run_id",
    "trace__raw_response",
    "trace__reasoning",
    "trace__final_correct",
    "trace__analyzer_version",
]
STEP_FIELDS = ["trace__analysis__steps"]
BRANCH_FIELDS = [
    "branch__state",
    "branch__raw_response",
    "branch__reasoning",
    "branch__final_correct",
    "branch__truncated",
    "branch__hint",
    "branch__branch_step",
    "branch__continuation_prefix_chars",
    "branch__continuation_mode",
]


def prompt_messages(a: dict) -> list[dict]:
    msgs = a["trace__prompt__messages"]
    if msgs:
        return [
            {"role": str(m.get("role", "user")), "content": str(m.get("content", ""))} for m in msgs
        ]
    return [{"role": "user", "content": a["trace__prompt__text"] or ""}]


def prompt_text(a: dict) -> str:
    msgs = a["trace__prompt__messages"]
    if msgs and not a["trace__prompt__text"]:
        users = [m.get("content", "") for m in msgs if m.get("role") == "user"]
        return str(users[-1]) if users else ""
    return a["trace__prompt__text"] or ""


def _meta(a: dict, ctx: Context, split: str, extra: dict | None = None) -> dict:
    info = {
        "analyzer_version": a["trace__analyzer_version"],
        "error_category": a["error_category"],
        "final_correct": a["trace__final_correct"],
        "first_error_step": a["first_error_step"],
        "hint": a["hint"],
        "hint_step": a["hint_step"],
        "trace_external_id": a["trace__external_id"],
        "verdict": a["verdict"],
        "violated_principles": a["violated_principles"],
        **(extra or {}),
    }
    return {
        "meta_trace_id": a["trace_id"],
        "meta_prompt_id": a["trace__prompt_id"],
        "meta_prompt_external_id": a["trace__prompt__external_id"],
        "meta_annotation_id": a["id"],
        "meta_annotator": a["annotator__username"],
        "meta_model": a["trace__model_name"],
        "meta_run_id": a["trace__run_id"],
        "meta_branch_trace_id": a["branch_id"],
        "meta_split": split,
        "meta_json": orjson.dumps(info, option=orjson.OPT_SORT_KEYS).decode(),
    }


def _original(a: dict, ctx: Context) -> dict:
    thinking, answer = split_thinking(a["trace__raw_response"], a["trace__reasoning"])
    return assistant_message(thinking, answer, reasoning_key=ctx.reasoning_key)


def _usable_branch(a: dict, ctx: Context) -> bool:
    if not a["branch_id"] or a.get("branch__state") != "ready" or not a["branch__raw_response"]:
        return False
    if a["branch__truncated"]:
        return False
    if ctx.correct_branches_only:
        return a["branch__final_correct"] is True
    return True


def parent_steps(a: dict) -> list[dict] | None:
    """The original trace's analysed steps, decoded on first use (see ``selectors``)."""
    steps = a.get("trace__analysis__steps")
    if isinstance(steps, str):
        steps = a["trace__analysis__steps"] = orjson.loads(steps)
    return steps


def _corrected(a: dict, ctx: Context, mode: str) -> tuple[list[dict], list[dict]]:
    """(extra prompt turns, assistant turns) of the hint-corrected trajectory."""
    reasoning_field = bool(a["branch__reasoning"])
    stream = a["branch__reasoning"] if reasoning_field else a["branch__raw_response"]
    parent_stream = a["trace__reasoning"] or a["trace__raw_response"]
    prefix_chars = a["branch__continuation_prefix_chars"]
    parts = branch_parts(
        branch_text=stream,
        prefix_chars=prefix_chars,
        hint=a["hint"] or a["branch__hint"],
        parent_text=parent_stream,
        # Only a branch without its prefix needs the parent's steps decoded.
        parent_steps=None if copies_prefix(stream, prefix_chars) else parent_steps(a),
        branch_step=a["branch__branch_step"]
        if a["branch__branch_step"] is not None
        else a["hint_step"],
    )
    key = ctx.reasoning_key
    if mode == "user_turn":
        cont_thinking, cont_answer = (
            (parts.continuation.strip(), a["branch__raw_response"])
            if reasoning_field
            else split_thinking(parts.continuation)
        )
        turns = [_original(a, ctx), _user(parts.hint, ctx)]
        return turns, [assistant_message(cont_thinking, cont_answer, reasoning_key=key)]
    pieces = (parts.prefix, parts.hint, parts.continuation)
    if mode == "stripped":
        pieces = (parts.prefix, parts.continuation)
    if reasoning_field:
        thinking = paragraphs(*pieces)
        answer = split_thinking(a["branch__raw_response"], thinking)[1]
    else:
        thinking, answer = split_thinking(paragraphs(*pieces))
    return [], [assistant_message(thinking, answer, reasoning_key=key)]


def _user(content: str, ctx: Context) -> dict:
    msg = {"role": "user", "content": content}
    if ctx.reasoning_key:
        msg["reasoning_content"] = None
    return msg


def _prompt(a: dict, ctx: Context) -> list[dict]:
    msgs = prompt_messages(a)
    if ctx.reasoning_key:
        for m in msgs:
            m["reasoning_content"] = None
    return msgs


# --- kinds ----------------------------------------------------------------------


class Kind:
    name: str
    source = "annotations"
    needs_steps = False
    needs_branch = False

    def configs(self, ctx: Context) -> list[Config]:
        raise NotImplementedError

    def rows(self, a: dict, ctx: Context, split: str) -> Iterator[tuple[str, dict]]:
        raise NotImplementedError

    def fields(self) -> list[str]:
        return (
            ANNOTATION_FIELDS
            + (STEP_FIELDS if self.needs_steps else [])
            + (BRANCH_FIELDS if self.needs_branch else [])
        )


class SftCorrected(Kind):
    name = "sft_corrected"
    needs_steps = True
    needs_branch = True

    def configs(self, ctx):
        msgs = _messages(ctx)
        return [
            Config(
                "sft_corrected",
                _schema(pa.field("messages", msgs)),
                "Conversational `messages`: the prompt and the hint-corrected trajectory "
                "(prefix + hint + continuation), reasoning in the assistant turn.",
            ),
            Config(
                "sft_corrected_prompt_completion",
                _schema(pa.field("prompt", msgs), pa.field("completion", msgs)),
                "The same trajectories as conversational `prompt` / `completion`.",
            ),
        ]

    def rows(self, a, ctx, split):
        if not _usable_branch(a, ctx):
            return
        mode = ctx.hint_mode
        extra, completion = _corrected(a, ctx, mode)
        prompt = _prompt(a, ctx) + extra
        meta = _meta(a, ctx, split, {"hint_mode": mode, **_branch_info(a)})
        yield "sft_corrected", {"messages": prompt + completion, **meta}
        yield (
            "sft_corrected_prompt_completion",
            {"prompt": prompt, "completion": completion, **meta},
        )


def _branch_info(a: dict) -> dict:
    return {
        "branch_final_correct": a["branch__final_correct"],
        "continuation_mode": a["branch__continuation_mode"],
    }


def _original_wrong(a: dict) -> bool:
    fe = a["first_error_step"]
    return a["trace__final_correct"] is False or (fe is not None and fe >= 0)


class Preference(Kind):
    name = "preference"
    needs_steps = True
    needs_branch = True

    def configs(self, ctx):
        msgs = _messages(ctx)
        return [
            Config(
                "preference",
                _schema(
                    pa.field("prompt", msgs), pa.field("chosen", msgs), pa.field("rejected", msgs)
                ),
                "Explicit-prompt conversational pairs: chosen = hint-corrected trajectory, "
                "rejected = the original wrong trace.",
            )
        ]

    def rows(self, a, ctx, split):
        if not _usable_branch(a, ctx) or not _original_wrong(a):
            return
        mode = ctx.hint_mode
        _, chosen = _corrected(a, ctx, "stripped" if mode == "user_turn" else mode)
        meta = _meta(a, ctx, split, {"hint_mode": mode, **_branch_info(a)})
        yield (
            "preference",
            {
                "prompt": _prompt(a, ctx),
                "chosen": chosen,
                "rejected": [_original(a, ctx)],
                **meta,
            },
        )


def trace_label(a: dict) -> bool | None:
    """Whole-trace judgement: the verdict, else "no error", else the graded answer."""
    if a["verdict"]:
        return a["verdict"] == "correct"
    if a["first_error_step"] is not None:
        return a["first_error_step"] == -1
    return a["trace__final_correct"]


class Unpaired(Kind):
    name = "unpaired"
    needs_steps = True
    needs_branch = True

    def configs(self, ctx):
        msgs = _messages(ctx)
        return [
            Config(
                "unpaired",
                _schema(
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
                    "prompt": _prompt(a, ctx),
                    "completion": [_original(a, ctx)],
                    "label": label,
                    **_meta(a, ctx, split, {"source": "trace"}),
                },
            )
        if (
            a["branch_id"]
            and a.get("branch__state") == "ready"
            and a["branch__final_correct"] is not None
            and not a["branch__truncated"]
        ):
            mode = ctx.hint_mode
            _, completion = _corrected(a, ctx, "stripped" if mode == "user_turn" else mode)
            yield (
                "unpaired",
                {
                    "prompt": _prompt(a, ctx),
                    "completion": completion,
                    "label": a["branch__final_correct"],
                    **_meta(a, ctx, split, {"source": "branch", **_branch_info(a)}),
                },
            )


def first_error(a: dict) -> int | None:
    """The first wrong step: the annotated index, else the first step labelled -1."""
    labels = a["step_labels"] or {}
    bad = [int(k) for k, v in labels.items() if v == -1]
    fe = a["first_error_step"]
    if fe is not None and fe >= 0:
        return min([fe, *bad])
    if bad:
        return min(bad)
    if fe == -1:
        return -1
    return None


def step_texts(a: dict) -> list[str]:
    stream = a["trace__reasoning"] or a["trace__raw_response"]
    return [stream[s["start"] : s["end"]] for s in parent_steps(a) or []]


class Stepwise(Kind):
    name = "stepwise"
    needs_steps = True

    def configs(self, ctx):
        return [
            Config(
                "stepwise",
                _schema(
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
                "final_answer_correct, label}`; label = first wrong step, -1 if none.",
            ),
        ]

    def rows(self, a, ctx, split):
        fe = first_error(a)
        steps = step_texts(a)
        if fe is None or not steps or fe >= len(steps):
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
                **_meta(a, ctx, split),
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
            },
        )


CRITIQUE_INSTRUCTION = (
    "Review the solution below step by step. Point out the first mistake, if any, "
    "and end with 'Conclusion: right' or 'Conclusion: wrong'."
)


def critique_prompt(a: dict, ctx: Context) -> str:
    thinking, answer = split_thinking(a["trace__raw_response"], a["trace__reasoning"])
    parts = [CRITIQUE_INSTRUCTION]
    if ctx.principles:
        parts.append("Principles:\n" + "\n".join(f"- {p}" for p in ctx.principles))
    parts.append(f"Problem:\n{prompt_text(a)}")
    parts.append(f"Solution:\n{paragraphs(thinking, answer)}")
    return "\n\n".join(parts)


class Critique(Kind):
    name = "critique"

    def configs(self, ctx):
        msgs = pa.list_(_MSG)
        return [
            Config(
                "critique",
                _schema(pa.field("prompt", msgs), pa.field("completion", msgs)),
                "Critique SFT: the judge prompt and the expert critique ending "
                "'Conclusion: right/wrong'.",
            ),
            Config(
                "critique_rl",
                _schema(pa.field("prompt", msgs), pa.field("ground_truth_judgment", pa.string())),
                "Critique RL rows: the judge prompt and `ground_truth_judgment` (right/wrong).",
            ),
        ]

    def rows(self, a, ctx, split):
        if not a["verdict"] or not (a["critique"] or "").strip():
            return
        judgment = "right" if a["verdict"] == "correct" else "wrong"
        text = a["critique"].strip()
        if a["violated_principles"]:
            text += "\n\nViolated principles:\n" + "\n".join(
                f"- {p}" for p in a["violated_principles"]
            )
        prompt = [{"role": "user", "content": critique_prompt(a, ctx)}]
        meta = _meta(a, ctx, split)
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
    for k in (SftCorrected(), Preference(), Unpaired(), Stepwise(), Critique(), Canonical())
}

# Plain (one-file) exports pick one config of their kind.
VARIANTS = {
    kind.name: [c.name for c in kind.configs(Context({}, parse_splits(None)))]
    for kind in KINDS.values()
}
OPENAI_KINDS = {"sft_corrected", "preference"}


def openai_row(config: str, row: dict) -> dict | None:
    """OpenAI fine-tuning shapes: SFT ``messages`` with ``weight``, DPO pairs."""

    def plain(m: dict) -> dict:
        return {"role": m["role"], "content": m["content"]}

    if config == "sft_corrected":
        msgs = row["messages"]
        last = max(i for i, m in enumerate(msgs) if m["role"] == "assistant")
        return {
            "messages": [
                {**plain(m), "weight": int(i == last)} if m["role"] == "assistant" else plain(m)
                for i, m in enumerate(msgs)
            ]
        }
    if config == "preference":
        return {
            "input": {"messages": [plain(m) for m in row["prompt"]]},
            "preferred_output": [plain(m) for m in row["chosen"]],
            "non_preferred_output": [plain(m) for m in row["rejected"]],
        }
    return None
