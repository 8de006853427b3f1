"""Turn a trace's stored analysis into render-ready pieces for the workspace.

Everything here is plain data, nothing is marked safe: ``traces.step_html``
turns it into the step list, escaping every piece of model text. The work is
one pass over the steps with bisect lookups, no queries.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any

from reflectlab.traces.overlay import StepStarts, episode_span, index_at, sentence_starts

# Display math spans (KaTeX auto-render delimiters, DESIGN §6). A candidate
# inside one is widened to the whole span, so the <mark> wraps the math and
# auto-render still sees both delimiters in one text node.
MATH_RE = re.compile(r"\\\[.*?\\\]|\\\(.*?\\\)|\$\$.*?\$\$", re.S)
BOXED = "\\boxed{"
# Runs of at least this many plain execution steps fold into a <details>.
FOLD_MIN = 3
# Folds start closed only on long traces; a short one reads best open.
FOLD_CLOSED_FROM_STEPS = 60
KIND_LABELS = {
    "reflection": "reflection",
    "transition": "transition",
    "weak_reflection": "weak reflection",
    "execution": "execution",
}


@dataclass(slots=True)
class Segment:
    """A piece of step text: ``kind`` is text, cue, cand or hint."""

    kind: str
    text: str
    css: str = ""
    title: str = ""


@dataclass(slots=True)
class StepView:
    index: int
    kind: str
    segments: list[Segment]
    cue: str | None = None
    subtype: str | None = None
    badge: str = ""
    badge_css: str = ""
    has_candidate: bool = False
    label: int | None = None
    first_error: bool = False
    copied: bool = False  # a branch step copied from the parent's prefix
    start: int = 0  # offset into Trace.step_text (a merge names the step by it)
    split_points: list[int] = field(default_factory=list)  # sentence starts: where x may split
    episode: int | None = None  # the analysis episode that starts at this step
    episode_steps: int = 0

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def label_css(self) -> str:
        return {1: "lab-p", 0: "lab-z", -1: "lab-n"}.get(self.label, "")


@dataclass(slots=True)
class Block:
    """One step, or a fold of consecutive plain execution steps."""

    steps: list[StepView]
    fold: bool = False
    open: bool = True
    title: str = ""

    @property
    def step(self) -> StepView:
        return self.steps[0]


@dataclass(slots=True)
class TraceView:
    blocks: list[Block]
    answer: list[Segment]
    n_steps: int
    truncated: bool
    untagged: bool
    metrics: dict[str, Any]
    hint_inline: bool = False
    candidates: list[dict[str, Any]] = field(default_factory=list)


def _math_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    start = max(start, 0)  # a negative start would count from the end
    if (
        text.find("\\[", start, end) < 0
        and text.find("\\(", start, end) < 0
        and text.find("$$", start, end) < 0
    ):
        return []
    return [m.span() for m in MATH_RE.finditer(text, start, end)]


def _boxed(text: str, a: int, b: int) -> tuple[int, int]:
    """Widen a candidate value to its ``\\boxed{…}`` wrapper, when it has one."""
    if text.startswith(BOXED, max(a - len(BOXED), 0)) and text[b : b + 1] == "}":
        return a - len(BOXED), b + 1
    return a, b


def _widen(a: int, b: int, spans: list[tuple[int, int]]) -> tuple[int, int]:
    for s, e in spans:
        if s <= a and b <= e:
            return s, e
    return a, b


def _candidate_mark(c: dict[str, Any]) -> tuple[str, str]:
    if c.get("correct") is True:
        return "cand right", f"candidate answer {c.get('value', '')}: right"
    if c.get("correct") is False:
        return "cand wrong", f"candidate answer {c.get('value', '')}: wrong"
    return "cand", f"candidate answer {c.get('value', '')} (not graded)"


def _segments(
    text: str, start: int, end: int, marks: list[tuple[int, int, str, str, str]]
) -> list[Segment]:
    """Split ``text[start:end]`` around non-overlapping marks (earliest wins)."""
    out: list[Segment] = []
    pos = start
    for a, b, kind, css, title in sorted(marks):
        a, b = max(a, start), min(b, end)
        if a < pos or b < a or (b == a and kind != "split"):
            continue  # overlaps an earlier mark, or lies outside the step
        if a > pos:
            out.append(Segment("text", text[pos:a]))
        out.append(Segment(kind, text[a:b], css, title))
        pos = b
    if pos < end:
        out.append(Segment("text", text[pos:end]))
    return out


def _episode_badges(
    analysis: dict[str, Any], steps: list[dict[str, Any]]
) -> dict[int, tuple[str, str]]:
    """Badge the step that introduces each candidate reached through reflection."""
    candidates = analysis.get("candidates") or []
    starts = StepStarts(steps)
    badges: dict[int, tuple[str, str]] = {}
    for r in analysis.get("reflections") or []:
        kind, target = r.get("kind"), r.get("to_candidate")
        if kind not in {"confirmatory", "corrective"} or target is None:
            continue
        if target >= len(candidates) or candidates[target].get("step") is None:
            continue
        transition = r.get("transition") or ""
        if kind == "corrective":
            text = f"corrects {transition}".strip()
            css = "ep-corrective" + (" ep-harmful" if transition == "T→F" else "")
        else:
            text, css = f"confirms {transition}".strip(), "ep-confirmatory"
        at = index_at(starts, candidates[target]["start"])
        if at is not None:
            badges[at] = (text, css)
    return badges


def _episodes(analysis: dict[str, Any], steps: list[dict[str, Any]]) -> dict[int, tuple[int, int]]:
    """{shown step: (episode index, its step count)} for the reflection-quality controls."""
    analysed = analysis.get("steps") or []
    starts = StepStarts(steps)
    out: dict[int, tuple[int, int]] = {}
    for e, (first, last) in enumerate(analysis.get("episodes") or []):
        span = episode_span(analysed, starts, first, last)
        if span is not None and span[0] not in out:
            out[span[0]] = (e, span[1] - span[0] + 1)
    return out


def _split_marks(
    a: int, b: int, strong: list[int], sentences: list[int], spans: list[tuple[int, int]]
) -> tuple[list[tuple[int, int, str, str, str]], list[int]]:
    """Split points of step ``[a, b)``: a zero-width ✂ mark at each strong-cue
    sentence start, and every sentence start outside math for the workspace's
    config (not a mark each: 600 steps stay light). ``strong`` and
    ``sentences`` are sorted offsets over the whole text."""
    strong_here = strong[bisect_right(strong, a) : bisect_left(strong, b)]
    here = strong_here + sentences[bisect_right(sentences, a) : bisect_left(sentences, b)]
    if spans:  # sorted and disjoint (one finditer): only the last span opening before o holds it
        opens = [s for s, _ in spans]
        here = [o for o in here if (k := bisect_left(opens, o) - 1) < 0 or o >= spans[k][1]]
    points = sorted(set(here))
    if not strong_here:
        return [], points
    strong_set = set(strong_here)
    return [(o, o, "split", "split-at strong", str(o)) for o in points if o in strong_set], points


def _find_hint(source: str, hint: str, prefix_chars: int | None) -> tuple[int, int] | None:
    hint = hint.strip()
    if not hint:
        return None
    at = source.find(hint, max(0, (prefix_chars or 0) - 200)) if prefix_chars else -1
    if at < 0:
        at = source.find(hint)
    return (at, at + len(hint)) if at >= 0 else None


def present_trace(
    trace: Any,
    *,
    labels: dict[str, int] | None = None,
    first_error: int | None = None,
    steps: list[dict[str, Any]] | None = None,
    editable: bool = False,
    only: tuple[int, int] | None = None,
) -> TraceView:
    """Render-ready steps, marks and the answer section of ``trace``.

    ``labels``/``first_error`` come from the viewer's annotation, so the
    page shows them before any script runs. ``steps`` are the steps to show
    when they differ from the analysis' (annotators' split/merge edits); the
    analysis' candidates and episodes are placed on them by offset.
    ``editable`` adds the split points (sentence starts) for step edits.
    ``only=(start, stop)`` presents just those steps, one block each and no
    answer section: the body of a fold opened on demand.
    """
    analysis = trace.analysis or {}
    extraction = analysis.get("extraction") or {}
    raw = trace.raw_response or ""
    source = trace.step_text
    steps = steps if steps is not None else analysis.get("steps") or []
    indices = range(len(steps)) if only is None else range(*slice(*only).indices(len(steps)))
    strong = sorted(analysis.get("split_points") or []) if editable else []
    sentences = []
    if editable and indices:
        lo, hi = steps[indices[0]]["start"], steps[indices[-1]]["end"]
        sentences = (
            sentence_starts(source, lo, hi) if only else sentence_starts(source, 0, len(source))
        )
    candidates = analysis.get("candidates") or []
    labels = labels or {}

    is_branch = bool(getattr(trace, "parent_id", None))
    hint_span = (
        _find_hint(source, trace.hint, trace.continuation_prefix_chars) if is_branch else None
    )
    prefix_end = hint_span[0] if hint_span else (trace.continuation_prefix_chars or 0)

    # Marks per step, found by bisect on step starts (steps are in text order).
    starts = StepStarts(steps)
    marks: list[list[tuple[int, int, str, str, str]]] = [[] for _ in steps]
    answer_marks: list[tuple[int, int, str, str, str]] = []
    for c in candidates:
        css, title = _candidate_mark(c)
        if c.get("step") is None:
            a, b = _boxed(raw, c["start"], c["end"])
            answer_marks.append(
                (*_widen(a, b, _math_spans(raw, a - 200, b + 200)), "cand", css, title)
            )
        elif (at := index_at(starts, c["start"])) is not None and at < len(steps):
            marks[at].append((*_boxed(source, c["start"], c["end"]), "cand", css, title))
    if hint_span:
        i = bisect_right(starts, hint_span[0]) - 1
        if 0 <= i < len(steps):
            marks[i].append((*hint_span, "hint", "hint", "the expert's hint"))

    badges = _episode_badges(analysis, steps)
    episodes = _episodes(analysis, steps)
    views: list[StepView] = []
    for i in indices:
        s = steps[i]
        a, b = s["start"], s["end"]
        step_marks = marks[i]
        has_candidate = bool(step_marks)
        split_points: list[int] = []
        spans = _math_spans(source, a, b) if step_marks or editable else []
        if editable:
            split_marks, split_points = _split_marks(a, b, strong, sentences, spans)
            step_marks = step_marks + split_marks
        if step_marks and spans:
            step_marks = [
                (*_widen(x, y, spans), k, css, t) if k == "cand" else (x, y, k, css, t)
                for x, y, k, css, t in step_marks
            ]
        if s.get("cue_start") is not None and s.get("cue_end") is not None:
            step_marks.append(
                (s["cue_start"], s["cue_end"], "cue", "cue", f"matched cue: {s.get('cue')}")
            )
        badge, badge_css = badges.get(i, ("", ""))
        episode, episode_steps = episodes.get(i, (None, 0))
        views.append(
            StepView(
                index=i,
                kind=s.get("kind") or "execution",
                segments=_segments(source, a, b, step_marks),
                cue=s.get("cue"),
                subtype=s.get("subtype"),
                badge=badge,
                badge_css=badge_css,
                has_candidate=has_candidate,
                label=labels.get(str(i)),
                first_error=first_error == i,
                copied=is_branch and prefix_end > 0 and b <= prefix_end,
                start=a,
                split_points=split_points,
                episode=episode,
                episode_steps=episode_steps,
            )
        )

    answer: list[Segment] = []
    answer_start = extraction.get("answer_start") if only is None else None
    if answer_start is not None and answer_start < len(raw):
        # Skip the blank lines after </think>; offsets stay those of the raw text.
        answer_start += len(raw) - answer_start - len(raw[answer_start:].lstrip())
        answer = _segments(raw, answer_start, len(raw), answer_marks)
        if not "".join(seg.text for seg in answer).strip():
            answer = []

    return TraceView(
        blocks=(
            _blocks(views, closed=len(views) >= FOLD_CLOSED_FROM_STEPS)
            if only is None
            else [Block([v]) for v in views]
        ),
        answer=answer,
        n_steps=len(steps),
        truncated=bool(analysis.get("truncated")),
        untagged=extraction.get("source") == "untagged",
        metrics=analysis.get("metrics") or {},
        hint_inline=hint_span is not None,
        candidates=candidates,
    )


def _plain(step: StepView) -> bool:
    return (
        step.kind == "execution"
        and step.episode is None
        and not step.has_candidate
        and not step.badge
        and step.label is None
        and not step.first_error
    )


def _blocks(views: list[StepView], *, closed: bool) -> list[Block]:
    """Group runs of >= FOLD_MIN plain execution steps; copied prefixes fold whole."""
    blocks: list[Block] = []
    run: list[StepView] = []

    def flush() -> None:
        if len(run) >= FOLD_MIN:
            blocks.append(
                Block(
                    list(run),
                    fold=True,
                    open=not closed,
                    title=f"{len(run)} execution steps ({run[0].index}-{run[-1].index})",
                )
            )
        else:
            blocks.extend(Block([v]) for v in run)
        run.clear()

    copied = [v for v in views if v.copied]
    if copied:
        blocks.append(
            Block(
                copied,
                fold=True,
                open=False,
                title=f"Steps 0-{copied[-1].index}, copied from the original trace",
            )
        )
        views = views[len(copied) :]
    for v in views:
        if _plain(v):
            run.append(v)
            continue
        flush()
        blocks.append(Block([v]))
    flush()
    return blocks
