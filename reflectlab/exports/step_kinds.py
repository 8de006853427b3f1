"""Step-level kinds of issue 14: Step-DPO pairs and DeltaBench reflection quality.

``step_preference`` (Step-DPO, Lai et al. 2024; PRM800K's rewritten steps):
for an annotation whose first wrong step has a human replacement, the prompt
is the problem followed by the steps before the error (inside ``<think>``),
chosen = the replacement, rejected = the wrong step. Ranked alternatives
extend the ranking ``replacement > alternative 1 > … > wrong step`` and every
ordered pair of it is a row (``meta_json.rank``). Plain-text ``prompt`` /
``chosen`` / ``rejected``: TRL's DPOTrainer trains on it as is.

``reflection_quality`` (DeltaBench, He et al. 2025): one row per labelled
reflection episode with its steps, quality and strategy-shift flag; a config
of the ``stepwise`` kind.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pyarrow as pa

from reflectlab.exports.kind_base import Kind
from reflectlab.exports.rows import parent_steps, prompt_text, row_meta, shown_steps, step_texts
from reflectlab.exports.schemas import Config, Context, with_meta
from reflectlab.traces.overlay import StepStarts, episode_span

REFLECTION_QUALITY = Config(
    "reflection_quality",
    with_meta(
        pa.field("episode", pa.int64()),
        pa.field("first_step", pa.int64()),
        pa.field("last_step", pa.int64()),
        pa.field("steps", pa.list_(pa.string())),
        pa.field("quality", pa.string()),
        pa.field("strategy_shift", pa.bool_()),
    ),
    "DeltaBench reflection quality: one row per labelled reflection episode, its steps, "
    "`quality` (effective / ineffective / harmful) and `strategy_shift`.",
)


def stepwise_meta(a: dict) -> dict:
    """What the stepwise rows carry in ``meta_json`` beyond the shared provenance."""
    return {
        "reflection_quality": a["reflection_quality"] or {},
        "step_reasons": a["step_reasons"] or {},
        "steps_edited": bool(
            a.get("trace__step_edit__splits") or a.get("trace__step_edit__merges")
        ),
    }


def _episodes(a: dict) -> list:
    episodes = a.get("trace__analysis__episodes")
    if isinstance(episodes, str):
        episodes = orjson.loads(episodes)
    return episodes or []


def reflection_quality_rows(a: dict, ctx: Context, split: str) -> Iterator[tuple[str, dict]]:
    labels = a["reflection_quality"] or {}
    if not labels:
        return
    episodes = _episodes(a)
    analysed = parent_steps(a) or []
    shown = StepStarts(shown_steps(a))
    texts = step_texts(a)
    for key in sorted(labels, key=int):
        e = int(key)
        if e >= len(episodes):
            continue
        # Episodes index the analysis' steps; rows name the steps the annotator saw.
        span = episode_span(analysed, shown, *episodes[e])
        if span is None:
            continue
        a_first, a_last = span
        yield (
            "reflection_quality",
            {
                "episode": e,
                "first_step": a_first,
                "last_step": a_last,
                "steps": texts[a_first : a_last + 1],
                "quality": labels[key].get("quality", ""),
                "strategy_shift": bool(labels[key].get("strategy_shift")),
                **row_meta(a, ctx, split),
            },
        )


class StepPreference(Kind):
    name = "step_preference"
    needs_steps = True

    def configs(self, ctx: Context) -> list[Config]:
        return [
            Config(
                "step_preference",
                with_meta(
                    pa.field("prompt", pa.string()),
                    pa.field("chosen", pa.string()),
                    pa.field("rejected", pa.string()),
                ),
                "Step-DPO pairs: `prompt` = problem + the steps before the first wrong "
                "step, `chosen` = the expert's replacement step (and ranked alternatives), "
                "`rejected` = the wrong step (or a lower-ranked alternative).",
            )
        ]

    def rows(self, a: dict, ctx: Context, split: str) -> Iterator[tuple[str, dict]]:
        replacement = (a["replacement_step"] or "").strip()
        fe = a["first_error_step"]
        if not replacement or a["exit_reason"] or fe is None or fe < 0:
            return
        steps = step_texts(a)
        if fe >= len(steps):
            return
        prefix = "".join(f"{s.strip()}\n\n" for s in steps[:fe])
        prompt = f"{prompt_text(a).strip()}\n\n<think>\n{prefix}"
        ranking = [replacement, *(a["replacement_alternatives"] or []), steps[fe].strip()]
        worst = len(ranking) - 1
        for i in range(len(ranking)):
            for j in range(i + 1, len(ranking)):
                if ranking[i] == ranking[j]:
                    continue
                extra = {"rank": [i, j], "rejected_is_original": j == worst, "step": fe}
                yield (
                    "step_preference",
                    {
                        "prompt": prompt,
                        "chosen": ranking[i],
                        "rejected": ranking[j],
                        **row_meta(a, ctx, split, extra),
                    },
                )
