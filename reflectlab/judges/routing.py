"""Queue routing by model assistance: which traces most need a human.

Four per-trace signals, each computed in the database (``Exists`` subqueries
over the suggestions, so ranking a whole queue is one query):

* ``judge_human_disagree`` — a judge's first error differs from a human's
  (submitted or accepted): a second opinion is worth the most there;
* ``judge_analyser_disagree`` — the judge says "no error", or puts the first
  error *after* the analyser's first wrong candidate answer (which bounds it);
* ``judge_unsure`` — a judge suggestion under the project's confidence
  threshold, or one that could not be read;
* ``right_but_process_error`` — the final answer is right but a judge finds a
  process error (ProcessBench: over half of correct Omni-MATH answers contain one).

``ORDER_KEYS`` are the queue policy keys built on them (``review.policy``).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from reflectlab.annotations.models import Annotation
from reflectlab.judges.models import AssistSettings, ParseState, Suggestion
from reflectlab.review.policy import OrderKey

SIGNALS = (
    "judge_human_disagree",
    "judge_analyser_disagree",
    "judge_unsure",
    "right_but_process_error",
)


def _judged():
    return Suggestion.objects.filter(
        trace_id=OuterRef("pk"), source=Suggestion.Source.JUDGE, parse_state=ParseState.PARSED
    ).exclude(first_error_step__isnull=True)


def annotate_signals(traces: QuerySet, *, project_id: int) -> QuerySet:
    """``traces`` with the four boolean signals as annotations."""
    settings = AssistSettings.objects.filter(project_id=project_id).first()
    threshold = settings.low_confidence if settings else AssistSettings().low_confidence
    human = Annotation.objects.filter(
        trace_id=OuterRef(OuterRef("pk")),
        state__in=[Annotation.State.SUBMITTED, Annotation.State.ACCEPTED],
        first_error_step__isnull=False,
    ).exclude(first_error_step=OuterRef("first_error_step"))
    analyser_step = Suggestion.objects.filter(
        trace_id=OuterRef("pk"),
        source=Suggestion.Source.ANALYSER,
        signal=Suggestion.Signal.WRONG_CANDIDATE,
    ).values("first_error_step")[:1]
    return traces.annotate(
        _analyser_step=Subquery(analyser_step),
        judge_human_disagree=Exists(_judged().filter(Exists(human))),
        judge_analyser_disagree=Exists(
            _judged().filter(
                Q(first_error_step=-1) | Q(first_error_step__gt=OuterRef("_analyser_step"))
            )
        )
        & Q(_analyser_step__isnull=False),
        judge_unsure=Exists(
            Suggestion.objects.filter(
                trace_id=OuterRef("pk"), source=Suggestion.Source.JUDGE
            ).filter(Q(parse_state=ParseState.UNPARSEABLE) | Q(confidence__lt=threshold))
        ),
        right_but_process_error=Exists(_judged().filter(first_error_step__gte=0))
        & Q(final_correct=True),
    )


class SignalFirst(OrderKey):
    """Traces with the signal first. The ranking queryset carries the signal
    (``annotate``); a trace ranked alone (``getattr`` default) counts as without."""

    def __init__(self, label: str, signal: str):
        super().__init__(label, 1)
        object.__setattr__(self, "signal", signal)

    def value(self, trace, policy) -> int:
        return 0 if getattr(trace, self.signal, False) else 1

    def annotate(self, traces: QuerySet, *, project_id: int) -> QuerySet:
        if self.signal in traces.query.annotations:
            return traces
        return annotate_signals(traces, project_id=project_id)


ORDER_KEYS = {
    "judge_human_disagreement_first": SignalFirst(
        "Judge disagrees with a human first", "judge_human_disagree"
    ),
    "judge_analyser_disagreement_first": SignalFirst(
        "Judge disagrees with the analyser first", "judge_analyser_disagree"
    ),
    "judge_unsure_first": SignalFirst("Low judge confidence first", "judge_unsure"),
    "right_but_process_error_first": SignalFirst(
        "Right answer, but the judge finds a process error, first", "right_but_process_error"
    ),
}
