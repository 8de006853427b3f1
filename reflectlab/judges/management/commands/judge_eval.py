"""``manage.py judge_eval PROJECT [--judge ID | --run ID] [--submitted] [--json]``:
judge vs human agreement with ProcessBench's metric per subset, step-label κ,
acceptance rate and annotation time with vs without suggestions."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from reflectlab.annotations.models import Annotation
from reflectlab.judges.evaluation import judge_evaluation
from reflectlab.judges.models import Judge, JudgeRun
from reflectlab.projects.models import Project


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("project", help="project id or name")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--judge", type=int, help="a judge's newest suggestion per trace")
        group.add_argument("--run", type=int, help="one judge run's suggestions")
        parser.add_argument(
            "--submitted", action="store_true", help="compare with submitted annotations too"
        )
        parser.add_argument("--json", action="store_true", help="print the numbers as JSON")

    def handle(self, *args, project, judge, run, submitted, json: bool, **options):
        found = Project.objects.filter(pk=int(project)) if project.isdigit() else None
        found = found or Project.objects.filter(name=project)
        project_obj = found.first()
        if project_obj is None:
            raise CommandError(f"No project {project!r}.")
        judge_obj = run_obj = None
        if judge is not None:
            judge_obj = Judge.objects.filter(project=project_obj, pk=judge).first()
            if judge_obj is None:
                raise CommandError(f"No judge {judge} in {project_obj}.")
        if run is not None:
            run_obj = JudgeRun.objects.filter(project=project_obj, pk=run).first()
            if run_obj is None:
                raise CommandError(f"No judge run {run} in {project_obj}.")
        states = (Annotation.State.ACCEPTED,) + ((Annotation.State.SUBMITTED,) if submitted else ())
        result = judge_evaluation(
            project=project_obj, judge=judge_obj, run=run_obj, human_states=states
        )
        if json:
            self.stdout.write(_dumps(result.to_dict()))
            return
        self.stdout.write(
            f"{result.suggestions} suggestions ({result.unparseable} unparseable), "
            f"{result.pairs} judge/human pairs"
        )
        self.stdout.write(f"{'subset':<16}{'n':>6}{'err acc':>10}{'corr acc':>10}{'F1':>8}")
        for row in result.processbench:
            self.stdout.write(
                f"{row['subset']:<16}{row['n']:>6}{_pct(row['error_accuracy']):>10}"
                f"{_pct(row['correct_accuracy']):>10}{_pct(row['f1']):>8}"
            )
        kappa = "-" if result.step_kappa is None else f"{result.step_kappa:.3f}"
        self.stdout.write(f"step-label Cohen's kappa: {kappa} over {result.step_pairs} steps")
        if result.analyser_pairs:
            self.stdout.write(
                f"consistent with the analyser's first wrong answer: "
                f"{_pct(result.analyser_consistency)}% of {result.analyser_pairs}"
            )
        self.stdout.write(
            f"suggestions accepted: {_pct(result.acceptance_rate)}% ({result.outcomes})"
        )
        self.stdout.write(
            f"annotation time with suggestions: {result.time_with}; without: {result.time_without}"
        )


def _dumps(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True)
