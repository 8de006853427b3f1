"""How good a judge is, and what its suggestions do to the annotators (read only).

``judge_evaluation`` pairs a judge's suggestions with human annotations of the
same traces (accepted ones by default — on imported ProcessBench data these
are its labels) and reports ProcessBench's metric per subset (the prompt's
``metadata.subset``, else ``all``), step-label Cohen's κ, the judge-vs-analyser
consistency, the suggestion acceptance rate, and the annotation time with vs
without suggestions shown. Used by ``manage.py judge_eval``, the judge
dashboard and the API.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db.models import Count, Max, Q, QuerySet

from reflectlab.annotations.models import Annotation
from reflectlab.judges import metrics
from reflectlab.judges.models import Judge, JudgeRun, ParseState, Suggestion, SuggestionOutcome
from reflectlab.projects.models import Project

HUMAN_STATES = (Annotation.State.ACCEPTED,)


@dataclass
class Evaluation:
    judge: int | None
    run: int | None
    suggestions: int
    unparseable: int
    pairs: int
    processbench: list[dict[str, Any]] = field(default_factory=list)
    step_kappa: float | None = None
    step_pairs: int = 0
    analyser_consistency: float | None = None
    analyser_pairs: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    acceptance_rate: float | None = None
    time_with: dict[str, Any] = field(default_factory=dict)
    time_without: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge_suggestions(
    *, project: Project, judge: Judge | None = None, run: JudgeRun | None = None
) -> QuerySet[Suggestion]:
    """A run's suggestions, or a judge's newest one per trace (all judges without either)."""
    queryset = Suggestion.objects.filter(project=project, source=Suggestion.Source.JUDGE)
    if run is not None:
        return queryset.filter(run=run)
    if judge is not None:
        queryset = queryset.filter(judge=judge)
    newest = queryset.values("trace_id", "judge_id").annotate(last=Max("id")).values("last")
    return queryset.filter(pk__in=newest)


def _time_summary(values: list[int]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "mean_s": None, "median_s": None}
    return {
        "n": len(values),
        "mean_s": round(statistics.fmean(values), 1),
        "median_s": statistics.median(values),
    }


def judge_evaluation(
    *,
    project: Project,
    judge: Judge | None = None,
    run: JudgeRun | None = None,
    human_states: tuple[str, ...] = HUMAN_STATES,
) -> Evaluation:
    suggestions = list(
        judge_suggestions(project=project, judge=judge, run=run).values(
            "id",
            "trace_id",
            "parse_state",
            "first_error_step",
            "step_labels",
            "trace__n_steps",
            "trace__prompt__metadata",
        )
    )
    trace_ids = {s["trace_id"] for s in suggestions}
    humans: dict[int, list[dict[str, Any]]] = {}
    for a in Annotation.objects.filter(
        trace_id__in=trace_ids, state__in=human_states, first_error_step__isnull=False
    ).values("trace_id", "first_error_step", "step_labels"):
        humans.setdefault(a["trace_id"], []).append(a)
    rows, step_pairs = [], []
    for s in suggestions:
        subset = str((s["trace__prompt__metadata"] or {}).get("subset") or "all")
        parsed = s["parse_state"] == ParseState.PARSED
        prediction = s["first_error_step"] if parsed else None
        if parsed and s["step_labels"]:
            labels = s["step_labels"]
        elif prediction is not None:
            labels = metrics.labels_from_first_error(prediction, s["trace__n_steps"])
        else:
            labels = {}
        for human in humans.get(s["trace_id"], []):
            rows.append((subset, human["first_error_step"], prediction))
            for step, value in (human["step_labels"] or {}).items():
                if step in labels:
                    step_pairs.append((value, labels[step]))
    evaluation = Evaluation(
        judge=judge.pk if judge else (run.judge_id if run else None),
        run=run.pk if run else None,
        suggestions=len(suggestions),
        unparseable=sum(s["parse_state"] != ParseState.PARSED for s in suggestions),
        pairs=len(rows),
        processbench=[score.to_dict() for score in metrics.processbench_by_subset(rows)],
        step_kappa=metrics.cohen_kappa(step_pairs),
        step_pairs=len(step_pairs),
    )
    _analyser(evaluation, suggestions)
    _outcomes(evaluation, project, [s["id"] for s in suggestions])
    return evaluation


def _analyser(evaluation: Evaluation, suggestions: list[dict[str, Any]]) -> None:
    """Judge vs analyser: the first wrong candidate answer bounds the first error, so a
    judge is consistent with it when its first error is at or before that step."""
    wrong = dict(
        Suggestion.objects.filter(
            trace_id__in={s["trace_id"] for s in suggestions},
            source=Suggestion.Source.ANALYSER,
            signal=Suggestion.Signal.WRONG_CANDIDATE,
        ).values_list("trace_id", "first_error_step")
    )
    pairs = [
        (s["first_error_step"], wrong[s["trace_id"]])
        for s in suggestions
        if s["trace_id"] in wrong and s["parse_state"] == ParseState.PARSED
        and s["first_error_step"] is not None
    ]  # fmt: skip
    evaluation.analyser_pairs = len(pairs)
    if pairs:
        consistent = sum(0 <= judge <= bound for judge, bound in pairs)
        evaluation.analyser_consistency = consistent / len(pairs)


def _outcomes(evaluation: Evaluation, project: Project, suggestion_ids: list[int]) -> None:
    counts = dict(
        SuggestionOutcome.objects.filter(suggestion_id__in=suggestion_ids)
        .values_list("outcome")
        .annotate(n=Count("id"))
        .values_list("outcome", "n")
    )
    evaluation.outcomes = {o: counts.get(o, 0) for o in SuggestionOutcome.Outcome.values}
    shown = sum(counts.get(o, 0) for o in ("accepted", "changed", "ignored"))
    evaluation.acceptance_rate = counts.get("accepted", 0) / shown if shown else None
    # Time per annotation (the workspace's visible-time counter), with suggestions
    # shown to the annotator (any accepted / changed / ignored outcome) or not.
    done = Annotation.objects.filter(
        project=project,
        state__in=[Annotation.State.SUBMITTED, Annotation.State.ACCEPTED],
        time_spent_seconds__gt=0,
    ).annotate(
        shown=Count(
            "suggestion_outcomes",
            filter=Q(suggestion_outcomes__outcome__in=["accepted", "changed", "ignored"]),
        )
    )
    with_s, without = [], []
    for shown_n, seconds in done.values_list("shown", "time_spent_seconds"):
        (with_s if shown_n else without).append(seconds)
    evaluation.time_with = _time_summary(with_s)
    evaluation.time_without = _time_summary(without)
