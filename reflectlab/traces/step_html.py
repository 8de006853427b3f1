"""The step list as HTML, built in one Python pass (issue 16).

A 4 MB trace has ~10,000 steps and ~100,000 text pieces. Rendered through
template loops, 92 % of the page's time went to variable lookups and 12 % to
localising every step number (``number_format``); here each piece is escaped
once and joined. The markup is the one the workspace and review scripts and
the browser tests rely on (``static/js/workspace.js``, ``steps.js``,
``review.js``, ``folds.js``): ``section.step.k-<kind>#<prefix>s<i>[data-i]``
with its ``.gut`` and ``.tx``, ``mark.cue``/``mark.cand``/``mark.hint``,
``button.split-at[data-offset]`` and ``details.fold``.

Model text is untrusted: every string that is not a literal here goes through
``escape`` (the stdlib function Django's own ``escape`` wraps: & < > " '),
numbers through ``int``. Only the joined result is marked safe, once.

Closed folds can be left empty (``fragment_url``): their steps come from the
step-range endpoint when the fold is opened (htmx, ``hx-trigger="toggle
once"``); without JavaScript the fold holds a link to the page with every fold
drawn (``?folds=open``).
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from django.utils.safestring import SafeString, mark_safe

from reflectlab.traces.presenters import Block, Segment, StepView, TraceView

SPLIT_TITLE = "Split the step here: a reflection cue starts this sentence (x)"
TRUNCATED = (
    '<div class="truncated" role="note">✂ Truncated: the model hit its token limit inside'
    " the thinking. There is no final answer section.</div>"
)
ANSWER_HEAD = (
    '<section class="answer"><h3>Final answer section <span class="muted small">after'
    " &lt;/think&gt; — never counted as reflection</span></h3>"
)
NO_STEPS = '<p class="muted">No thinking steps.</p>'


def segments_html(segments: list[Segment]) -> str:
    out = []
    for seg in segments:
        if seg.kind == "text":
            out.append(escape(seg.text))
        elif seg.kind == "split":
            out.append(
                f'<button type="button" class="{escape(seg.css)}" data-action="split"'
                f' data-offset="{escape(seg.title)}" title="{SPLIT_TITLE}">✂</button>'
            )
        else:
            out.append(
                f'<mark class="{escape(seg.css)}" title="{escape(seg.title)}">'
                f"{escape(seg.text)}</mark>"
            )
    return "".join(out)


def step_html(step: StepView, prefix: str = "") -> str:
    """One ``<section class="step">``: gutter (number, kind, badges) and text."""
    i = int(step.index)
    kind = escape(step.kind)
    css = f"step k-{kind}"
    if step.label_css:
        css += f" {step.label_css}"
    if step.first_error:
        css += " first-error"
    gut = f'<span class="no">{i}</span>'
    if step.kind != "execution":
        sub = f" · {escape(step.subtype)}" if step.subtype else ""
        gut += f'<span class="kd">{escape(step.kind_label)}{sub}</span>'
    if step.badge:
        gut += f'<span class="ep {escape(step.badge_css)}">{escape(step.badge)}</span>'
    if step.episode is not None:
        e = int(step.episode)
        gut += f'<span class="ep ep-episode" data-episode="{e}">episode {e}</span>'
    return (
        f'<section class="{css}" id="{escape(prefix)}s{i}" data-i="{i}"><div class="gut">'
        f'{gut}</div><div class="tx">{segments_html(step.segments)}</div></section>'
    )


def _fold(block: Block, prefix: str, *, fragment_url: str | None, open_all: bool) -> str:
    title = escape(block.title)
    if fragment_url is None or block.open or open_all:
        attrs = " open" if block.open or open_all else ""
        body = "".join(step_html(s, prefix) for s in block.steps)
        return f'<details class="fold"{attrs}><summary>{title}</summary>{body}</details>'
    start, stop = int(block.steps[0].index), int(block.steps[-1].index) + 1
    sep = "&" if "?" in fragment_url else "?"
    url = escape(f"{fragment_url}{sep}{urlencode({'start': start, 'stop': stop})}")
    return (
        f'<details class="fold lazy" data-start="{start}" data-stop="{stop}"><summary>{title}'
        f'</summary><div class="fold-body" hx-get="{url}" hx-trigger="toggle once from:closest'
        f' details"><p class="muted small fold-wait">Loading steps {start}-{stop - 1}… '
        f'<a href="?folds=open#{escape(prefix)}s{start}">the page with every step</a></p></div></details>'
    )


def trace_steps_html(
    view: TraceView,
    prefix: str = "",
    *,
    fragment_url: str | None = None,
    open_all: bool = False,
) -> SafeString:
    """The ``#steps`` region: blocks, the truncation note, the final answer section.

    With ``fragment_url``, closed folds are drawn empty and load from it;
    ``open_all`` draws every fold open with its steps (the no-script page).
    """
    out = []
    for block in view.blocks:
        if block.fold:
            out.append(_fold(block, prefix, fragment_url=fragment_url, open_all=open_all))
        else:
            out.append(step_html(block.step, prefix))
    if not view.blocks:
        out.append(NO_STEPS)
    if view.truncated:
        out.append(TRUNCATED)
    if view.answer:
        out.append(
            f'{ANSWER_HEAD}<div class="tx math">{segments_html(view.answer)}</div></section>'
        )
    return mark_safe("".join(out))  # noqa: S308 - every piece of model text is escaped above


def steps_fragment_html(view: TraceView, prefix: str = "") -> SafeString:
    """The steps of a fold opened on demand, in the page's own markup."""
    body = "".join(step_html(s, prefix) for block in view.blocks for s in block.steps)
    return mark_safe(body)  # noqa: S308 - every piece of model text is escaped in step_html
