"""The step list built in Python (traces.step_html): markup, escaping, lazy folds."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from reflectlab.traces.models import Trace
from reflectlab.traces.presenters import FOLD_CLOSED_FROM_STEPS, Segment, StepView, present_trace
from reflectlab.traces.step_html import step_html, steps_fragment_html, trace_steps_html
from tests.factories import TraceFactory

HOSTILE = '<script>window.__pwned=1</script>"onerror="alert(1)'
TAGS = {"section", "div", "span", "mark", "button", "details", "summary", "p", "a", "h3"}


class Tags(HTMLParser):
    """Every tag and attribute the browser would build from the markup."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def assert_inert(html: str) -> Tags:
    parsed = Tags(html)
    assert {tag for tag, _ in parsed.tags} <= TAGS
    for _tag, attrs in parsed.tags:
        assert not [name for name in attrs if name.startswith("on")], attrs
    assert "<script" not in html and '"onerror=' not in html
    return parsed


def test_step_markup_is_the_one_the_scripts_read():
    step = StepView(
        index=12,
        kind="reflection",
        subtype="verification",
        segments=[
            Segment("cue", "Wait", "cue", "matched cue: wait"),
            Segment("text", ", 2 + 3 = 5 "),
            Segment("split", "", "split-at strong", "140"),
            Segment("cand", "\\boxed{5}", "cand right", "candidate answer 5: right"),
        ],
        label=-1,
        first_error=True,
        badge="corrects F→T",
        badge_css="ep-corrective",
        episode=3,
        episode_steps=2,
    )
    assert step_html(step, "b9-") == (
        '<section class="step k-reflection lab-n first-error" id="b9-s12" data-i="12">'
        '<div class="gut"><span class="no">12</span><span class="kd">reflection · verification'
        '</span><span class="ep ep-corrective">corrects F→T</span><span class="ep ep-episode"'
        ' data-episode="3">episode 3</span></div><div class="tx"><mark class="cue"'
        ' title="matched cue: wait">Wait</mark>, 2 + 3 = 5 <button type="button"'
        ' class="split-at strong" data-action="split" data-offset="140" title="Split the step'
        ' here: a reflection cue starts this sentence (x)">✂</button><mark class="cand right"'
        ' title="candidate answer 5: right">\\boxed{5}</mark></div></section>'
    )


def test_every_model_piece_of_a_step_is_escaped():
    """Text, cue, candidate, hint, kinds and badges: nothing becomes markup."""
    step = StepView(
        index=0,
        kind=HOSTILE,
        subtype=HOSTILE,
        segments=[
            Segment("text", HOSTILE),
            Segment("cue", HOSTILE, "cue", f"matched cue: {HOSTILE}"),
            Segment("cand", HOSTILE, "cand wrong", f"candidate answer {HOSTILE}: wrong"),
            Segment("hint", HOSTILE, "hint", "the expert's hint"),
            Segment("split", "", "split-at strong", HOSTILE),
        ],
        badge=HOSTILE,
        badge_css=HOSTILE,
    )
    html = step_html(step, prefix=HOSTILE)
    parsed = assert_inert(html)
    # It reads back as text, not dropped: kind, subtype, badge, text, cue, candidate, hint.
    assert "".join(parsed.text).count(HOSTILE) == 7
    marks = [attrs for tag, attrs in parsed.tags if tag == "mark"]
    assert [m["title"] for m in marks][1] == f"candidate answer {HOSTILE}: wrong"


def test_hostile_trace_through_the_presenter_cue_candidate_and_hint(project):
    text = (
        f"Compute it. {HOSTILE}\n\nWait, {HOSTILE} so \\boxed{{{HOSTILE}}}.\n\n"
        f"Check the sum {HOSTILE}.\n\nSo 5.\n</think>\n\n{HOSTILE} \\boxed{{{HOSTILE}}}"
    )
    parent = TraceFactory(project=project, raw_response=text)
    hint = f"Check the sum {HOSTILE}."
    branch = TraceFactory(
        project=project,
        prompt=parent.prompt,
        parent=parent,
        origin=Trace.Origin.REGENERATION,
        hint=hint,
        branch_step=2,
        raw_response=text,
        continuation_prefix_chars=text.index("Check the sum"),
    )
    for trace, editable in ((parent, True), (branch, False)):
        view = present_trace(trace, editable=editable)
        html = trace_steps_html(view, "b1-" if trace is branch else "")
        parsed = assert_inert(html)
        kinds = {a.get("class") for t, a in parsed.tags if t == "mark"}
        assert {"cue", "cand"} & {k.split()[0] for k in kinds if k}
        assert html.count("&lt;script&gt;window.__pwned=1&lt;/script&gt;&quot;onerror=") >= 4
    assert '<mark class="hint"' in trace_steps_html(present_trace(branch), "b1-")


def long_trace(project, runs: int = 30) -> Trace:
    """Runs of four plain steps between reflections: closed folds from 60 steps."""
    parts = []
    for r in range(runs):
        parts += [f"Line {r}.{k}: {r} + {k} = {r + k}." for k in range(4)]
        parts.append(f"Wait, check {r} again.")
    return TraceFactory(project=project, raw_response="\n\n".join(parts) + "\n</think>\nok")


def test_closed_folds_of_a_long_trace_load_on_demand(project):
    trace = long_trace(project)
    view = present_trace(trace)
    assert view.n_steps >= FOLD_CLOSED_FROM_STEPS
    html = str(trace_steps_html(view, fragment_url="/traces/1/steps/?split=1"))
    parsed = assert_inert(html)
    bodies = [a for t, a in parsed.tags if t == "div" and a.get("class") == "fold-body"]
    assert len(bodies) == 30
    assert bodies[1]["hx-get"] == "/traces/1/steps/?split=1&start=5&stop=9"
    assert bodies[1]["hx-trigger"] == "toggle once from:closest details"
    assert 'data-start="5" data-stop="9"' in html
    # The folded steps are not on the page, the others are.
    assert 'id="s5"' not in html and "Line 1.0" not in html and 'id="s4"' in html
    assert '<a href="?folds=open#s5">the page with every step</a>' in html
    # Without a fragment URL, or with every fold asked for, the steps are drawn.
    assert 'id="s5"' in trace_steps_html(view)
    everything = str(trace_steps_html(view, fragment_url="/x/", open_all=True))
    assert 'id="s5"' in everything and "fold-body" not in everything
    assert everything.count('<details class="fold" open>') == 30


def test_a_fold_never_holds_a_labelled_or_first_error_step(project):
    trace = long_trace(project)
    view = present_trace(trace, labels={"6": 1}, first_error=11)
    blocks = {s.index: b for b in view.blocks for s in b.steps}
    assert not blocks[6].fold and not blocks[11].fold
    assert [s.index for s in blocks[5].steps] == [5] and not blocks[5].fold
    assert [s.index for s in blocks[7].steps] == [7]  # 7, 8: too short a run to fold
    assert not blocks[10].fold and not blocks[12].fold
    assert blocks[15].fold and [s.index for s in blocks[15].steps] == [15, 16, 17, 18]


def test_fragment_is_the_range_in_page_markup(project):
    trace = long_trace(project)
    page = str(trace_steps_html(present_trace(trace, editable=True)))
    part = present_trace(trace, editable=True, only=(5, 9))
    assert [s.index for b in part.blocks for s in b.steps] == [5, 6, 7, 8]
    assert part.n_steps == present_trace(trace).n_steps and part.answer == []
    fragment = str(steps_fragment_html(part))
    assert fragment.startswith('<section class="step k-execution" id="s5"')
    assert fragment in page


@pytest.mark.parametrize("only", [(0, 0), (500, 600), (-3, 2)])
def test_fragment_outside_the_trace_is_empty_or_clipped(project, only):
    trace = long_trace(project, runs=2)
    part = present_trace(trace, only=only)
    assert all(0 <= s.index < part.n_steps for b in part.blocks for s in b.steps)
