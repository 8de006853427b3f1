"""Row builders: the pieces of a source annotation every kind assembles its rows from.

A source record is one ``values()`` dict of ``ANNOTATION_FIELDS`` (+ the step
and branch fields a kind asks for), read by ``selectors.annotation_rows``.
"""

from __future__ import annotations

import orjson

from reflectlab.exports.schemas import Context
from reflectlab.exports.text import (
    assistant_message,
    branch_parts,
    copies_prefix,
    paragraphs,
    split_thinking,
)
from reflectlab.judges.exporting import meta_judge
from reflectlab.traces.models import step_text_for_source
from reflectlab.traces.overlay import edited_steps

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
    "step_reasons",
    "replacement_step",
    "replacement_alternatives",
    "flawed_process",
    "exit_reason",
    "reflection_quality",
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
    "trace__outcome",
    "trace__answer_reached_step",
    "trace__analyzer_version",
]
STEP_FIELDS = [
    "trace__analysis__steps",
    "trace__analysis__extraction__source",
    # Annotators' split/merge edits (annotations.StepEdit): exports use the edited steps.
    "trace__step_edit__splits",
    "trace__step_edit__merges",
]
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
    "branch__analysis__extraction__source",
    "branch__model_name",
]
# ProcessBench's four subsets (gsm8k, math, olympiadbench, omnimath) ride in the prompt's metadata.
SUBSET_FIELDS = ["trace__prompt__metadata__subset"]


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


def row_meta(a: dict, ctx: Context, split: str, extra: dict | None = None) -> dict:
    info = {
        "analyzer_version": a["trace__analyzer_version"],
        "error_category": a["error_category"],
        "final_correct": a["trace__final_correct"],
        "first_error_step": a["first_error_step"],
        # Truncated without an answer stays apart from wrong (Trace.outcome).
        "outcome": a["trace__outcome"],
        "answer_reached_step": a["trace__answer_reached_step"],
        "hint": a["hint"],
        "hint_step": a["hint_step"],
        "trace_external_id": a["trace__external_id"],
        "verdict": a["verdict"],
        "violated_principles": a["violated_principles"],
        "flawed_process": bool(a["flawed_process"]),
        **(extra or {}),
    }
    meta = {
        "meta_trace_id": a["trace_id"],
        "meta_prompt_id": a["trace__prompt_id"],
        "meta_prompt_external_id": a["trace__prompt__external_id"],
        "meta_annotation_id": a["id"],
        "meta_annotator": a["annotator__username"],
        # A row built from a branch (``branch_info`` in extra) names the branch's model.
        "meta_model": (a["branch__model_name"] or a["trace__model_name"])
        if "parent_model" in info
        else a["trace__model_name"],
        "meta_run_id": a["trace__run_id"],
        "meta_branch_trace_id": a["branch_id"],
        "meta_split": split,
        "meta_json": orjson.dumps(info, option=orjson.OPT_SORT_KEYS).decode(),
    }
    if ctx.judge_labels:  # separate columns: the human labels above stay the human's
        meta.update(meta_judge(a))
    return meta


def original_turn(a: dict, ctx: Context) -> dict:
    thinking, answer = split_thinking(a["trace__raw_response"], a["trace__reasoning"])
    return assistant_message(thinking, answer, reasoning_key=ctx.reasoning_key)


def branch_problem(a: dict, ctx: Context) -> str | None:
    """Why an annotation's branch cannot be a corrected trajectory (None: it can)."""
    if not a["branch_id"]:
        return "have no hint branch"
    if a.get("branch__state") != "ready" or not a["branch__raw_response"]:
        return "have a branch still generating, failed or empty"
    if a["branch__truncated"]:
        return "have a truncated branch"
    if ctx.correct_branches_only and a["branch__final_correct"] is not True:
        return "have a branch not graded right (branch_filter=finished keeps it)"
    return None


def usable_branch(a: dict, ctx: Context) -> bool:
    return branch_problem(a, ctx) is None


def parent_steps(a: dict) -> list[dict] | None:
    """The original trace's analysed steps, decoded on first use (see ``selectors``)."""
    steps = a.get("trace__analysis__steps")
    if isinstance(steps, str):
        steps = a["trace__analysis__steps"] = orjson.loads(steps)
    return steps


def corrected_turns(a: dict, ctx: Context, mode: str) -> tuple[list[dict], list[dict]]:
    """(extra prompt turns, assistant turns) of the hint-corrected trajectory."""
    # The texts the stored analyses index (Trace.step_text), by extraction source.
    reasoning_field = a["branch__analysis__extraction__source"] == "reasoning_field"
    stream = step_text_for_source(
        a["branch__raw_response"], a["branch__reasoning"], a["branch__analysis__extraction__source"]
    )
    parent_stream = parent_step_text(a)
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
        turns = [original_turn(a, ctx), user_turn(parts.hint, ctx)]
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


def user_turn(content: str, ctx: Context) -> dict:
    msg = {"role": "user", "content": content}
    if ctx.reasoning_key:
        msg["reasoning_content"] = None
    return msg


def prompt_turns(a: dict, ctx: Context) -> list[dict]:
    msgs = prompt_messages(a)
    if ctx.reasoning_key:
        for m in msgs:
            m["reasoning_content"] = None
    return msgs


def branch_info(a: dict) -> dict:
    """Provenance of a row built from a branch; ``row_meta`` then names the branch's model."""
    return {
        "branch_final_correct": a["branch__final_correct"],
        "continuation_mode": a["branch__continuation_mode"],
        "parent_model": a["trace__model_name"],
    }


def original_wrong(a: dict) -> bool:
    fe = a["first_error_step"]
    return a["trace__final_correct"] is False or (fe is not None and fe >= 0)


def trace_label(a: dict) -> bool | None:
    """Whole-trace judgement: the verdict, else "no error", else the graded answer."""
    if a["verdict"]:
        return a["verdict"] == "correct"
    if a["first_error_step"] is not None:
        return a["first_error_step"] == -1
    return a["trace__final_correct"]


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


def parent_step_text(a: dict) -> str:
    """``Trace.step_text`` of the original trace of row ``a``."""
    return step_text_for_source(
        a["trace__raw_response"], a["trace__reasoning"], a["trace__analysis__extraction__source"]
    )


def subset_of(a: dict) -> str | None:
    value = a.get("trace__prompt__metadata__subset")
    return None if value is None else str(value)


def shown_steps(a: dict) -> list[dict]:
    """The steps the annotator labelled: the analysis' steps with the trace's edits."""
    steps = parent_steps(a) or []
    splits, merges = a.get("trace__step_edit__splits"), a.get("trace__step_edit__merges")
    if not splits and not merges:
        return steps
    return edited_steps(steps, parent_step_text(a), splits=splits or (), merges=merges or ())


def step_texts(a: dict) -> list[str]:
    stream = parent_step_text(a)
    return [stream[s["start"] : s["end"]] for s in shown_steps(a)]


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
