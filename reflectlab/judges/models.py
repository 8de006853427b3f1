"""Judges (a model config + a versioned prompt), their runs, and the suggestions
they and the analyser make — stored apart from human work (``annotations``).

A judge run executes like a run (``reflectlab.runs.execution``): one
``JudgeItem`` per (trace, sample) is claimed, sent, retried and recorded, and
its output is kept as a ``JudgeSample`` — raw text byte for byte, with the
parse state and what was parsed. When every sample of a trace is finished the
samples are folded into one ``Suggestion`` whose confidence is the share of
samples agreeing with the mode (self-consistency).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from reflectlab.annotations.models import Annotation
from reflectlab.projects.models import Project
from reflectlab.prompts.models import Prompt
from reflectlab.providers.models import ModelConfig
from reflectlab.runs.models import RunBase, RunItemBase
from reflectlab.traces.models import Trace

MAX_SAMPLES = 16


class Judge(models.Model):
    class Kind(models.TextChoices):
        CRITIC = "critic", "Earliest error step, or -1 (ProcessBench critic)"
        STEP_LABELS = "step_labels", "A label per step (+1 / 0 / -1)"
        CRITIQUE = "critique", "Critique with a verdict"
        HINT = "hint", "Draft hint at the flaw"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="judges")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CRITIC)
    model_config = models.ForeignKey(ModelConfig, on_delete=models.RESTRICT, related_name="judges")
    samples_per_trace = models.PositiveSmallIntegerField(
        default=1, help_text="Several samples give a self-consistency confidence."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="judge_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class JudgePrompt(models.Model):
    """One version of a judge's prompt template; immutable once a run used it."""

    judge = models.ForeignKey(Judge, on_delete=models.CASCADE, related_name="prompts")
    version = models.PositiveIntegerField()
    template = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["judge_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["judge", "version"], name="judgeprompt_unique_version")
        ]

    def __str__(self) -> str:
        return f"{self.judge} v{self.version}"


class JudgeRun(RunBase):
    """A judge over a set of traces, ``samples_per_trace`` samples each."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="judge_runs")
    judge = models.ForeignKey(Judge, on_delete=models.CASCADE, related_name="runs")
    prompt = models.ForeignKey(JudgePrompt, on_delete=models.RESTRICT, related_name="runs")
    # The config at the time of the run (a judge may later point at another).
    model_config = models.ForeignKey(ModelConfig, on_delete=models.RESTRICT, related_name="+")
    samples_per_trace = models.PositiveSmallIntegerField(default=1)
    items_unparsed = models.PositiveIntegerField(default=0)

    class Meta(RunBase.Meta):
        pass

    def __str__(self) -> str:
        return f"Judge run {self.pk} of {self.judge}"


class JudgeItem(RunItemBase):
    """One (trace, sample) of a judge run — claimed, leased and recorded like a RunItem."""

    run = models.ForeignKey(JudgeRun, on_delete=models.CASCADE, related_name="items")
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="+")

    class Meta(RunItemBase.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["run", "trace", "sample_index"], name="judgeitem_unique_sample"
            )
        ]
        indexes = [models.Index(fields=["run", "state"])]

    def __str__(self) -> str:
        return f"Judge run {self.run_id} trace {self.trace_id} sample {self.sample_index}"


class ParseState(models.TextChoices):
    PARSED = "parsed", "Parsed"
    UNPARSEABLE = "unparseable", "Unparseable"


class JudgeSample(models.Model):
    """What the judge answered for one (trace, sample): kept as sent, and parsed."""

    run = models.ForeignKey(JudgeRun, on_delete=models.CASCADE, related_name="samples")
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="+")
    sample_index = models.PositiveIntegerField()
    raw_output = models.TextField(blank=True)
    reasoning = models.TextField(blank=True)
    parse_state = models.CharField(max_length=16, choices=ParseState.choices)
    parse_error = models.CharField(max_length=300, blank=True)
    parsed = models.JSONField(default=dict, blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run_id", "trace_id", "sample_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "trace", "sample_index"], name="judgesample_unique_sample"
            )
        ]

    def __str__(self) -> str:
        return f"Judge run {self.run_id} trace {self.trace_id} sample {self.sample_index}"


class Suggestion(models.Model):
    """A model's proposal for one trace, never mixed with human annotations.

    ``first_error_step`` uses the annotation's convention (-1 = no error).
    ``confidence`` is the share of samples agreeing with the mode (None for
    analyser signals, which are deterministic). ``raw`` keeps the evidence:
    the judge's raw outputs or the analyser's facts.
    """

    class Source(models.TextChoices):
        JUDGE = "judge", "Judge"
        ANALYSER = "analyser", "Analyser"

    class Signal(models.TextChoices):
        FIRST_ERROR = "first_error", "First error"
        STEP_LABELS = "step_labels", "Step labels"
        CRITIQUE = "critique", "Critique and verdict"
        HINT = "hint", "Hint"
        WRONG_CANDIDATE = "wrong_candidate", "First wrong candidate answer"
        UNCERTAINTY = "uncertainty", "Entropy spikes (SRGen)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="suggestions")
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="suggestions")
    source = models.CharField(max_length=16, choices=Source.choices)
    signal = models.CharField(max_length=20, choices=Signal.choices)
    judge = models.ForeignKey(
        Judge, null=True, blank=True, on_delete=models.CASCADE, related_name="suggestions"
    )
    run = models.ForeignKey(
        JudgeRun, null=True, blank=True, on_delete=models.CASCADE, related_name="suggestions"
    )
    prompt = models.ForeignKey(
        JudgePrompt, null=True, blank=True, on_delete=models.RESTRICT, related_name="+"
    )
    prompt_version = models.PositiveIntegerField(null=True, blank=True)
    parse_state = models.CharField(max_length=16, choices=ParseState.choices)
    first_error_step = models.IntegerField(null=True, blank=True)
    step_labels = models.JSONField(default=dict, blank=True)
    verdict = models.CharField(max_length=16, blank=True)
    critique = models.TextField(blank=True)
    hint = models.TextField(blank=True)
    hint_step = models.IntegerField(null=True, blank=True)
    flagged_steps = models.JSONField(default=list, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    samples = models.PositiveSmallIntegerField(default=0)
    samples_parsed = models.PositiveSmallIntegerField(default=0)
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trace_id", "source", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "trace"],
                condition=Q(run__isnull=False),
                name="suggestion_unique_run",
            ),
            models.UniqueConstraint(
                fields=["trace", "signal"],
                condition=Q(source="analyser"),
                name="suggestion_unique_analyser_signal",
            ),
        ]
        indexes = [models.Index(fields=["project", "source", "signal"])]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.signal} for trace {self.trace_id}"

    @property
    def is_parsed(self) -> bool:
        return self.parse_state == ParseState.PARSED


class SuggestionOutcome(models.Model):
    """What an annotator did with a suggestion: accepted, changed (accepted, then
    submitted something else), ignored (shown, never taken) or hidden (the
    project hides suggestions until submit, so they could not anchor anyone)."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        CHANGED = "changed", "Changed"
        IGNORED = "ignored", "Ignored"
        HIDDEN = "hidden", "Hidden until submit"

    suggestion = models.ForeignKey(Suggestion, on_delete=models.CASCADE, related_name="outcomes")
    annotation = models.ForeignKey(
        Annotation, on_delete=models.CASCADE, related_name="suggestion_outcomes"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    taken = models.BooleanField(default=False, help_text="The annotator pressed accept.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["suggestion", "annotation"], name="suggestionoutcome_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.outcome} {self.suggestion_id} in annotation {self.annotation_id}"


class AssistSettings(models.Model):
    """Per-project model assistance. Suggestions are hidden until the annotator
    submits by default (against anchoring); ``prefill`` shows them as a pre-fill
    accepted with one key."""

    class Mode(models.TextChoices):
        HIDDEN = "hidden", "Hidden until the annotator submits"
        PREFILL = "prefill", "Shown as a pre-fill, accepted with one key"

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="assist")
    suggestion_mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.HIDDEN)
    low_confidence = models.FloatField(
        default=0.6, help_text="Judge suggestions below this confidence count as unsure."
    )

    def __str__(self) -> str:
        return f"Assistance in {self.project}"


class HintEntry(models.Model):
    """An accepted hint with the text of the step it was written at, indexed for
    the hint memory (PostgreSQL full text; SQLite FTS5 through triggers)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    annotation = models.OneToOneField(Annotation, on_delete=models.CASCADE, related_name="+")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="+")
    hint = models.TextField()
    step_text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["project", "prompt"])]

    def __str__(self) -> str:
        return f"Hint of annotation {self.annotation_id}"
