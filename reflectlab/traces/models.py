from __future__ import annotations

from django.db import models
from django.db.models import Q

from reflectlab.core.fields import NulSafeJSONField, NulSafeTextField
from reflectlab.projects.models import Project
from reflectlab.prompts.models import Prompt

# What the dashboards' queries read and filter on besides project and model
# (``dashboards.selectors``); covered by the ``trace_charts`` index.
CHART_COLUMNS = [
    "n_reflection_steps",
    "reflection_share",
    "first_candidate_position",
    "final_correct",
    "has_corrective",
    "truncated",
    "thinking_chars",
    "run",
    "created_at",
    *(
        f"n_{kind}_{suffix}"
        for kind in ("confirmatory", "corrective")
        for suffix in ("tt", "ff", "ft", "tf", "ungraded")
    ),
    "n_pre_answer",
    "n_trailing",
]


class Trace(models.Model):
    """One model response to a prompt, kept byte-for-byte, with its stored analysis.

    The analysis is stored whole in ``analysis`` (steps, candidates, episodes)
    and its headline numbers are copied into columns so lists, queues and
    dashboards filter and aggregate in the database.
    """

    class Origin(models.TextChoices):
        RUN = "run", "Run"
        IMPORT = "import", "Import"
        REGENERATION = "regeneration", "Regeneration"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Outcome(models.TextChoices):
        CORRECT = "correct", "Correct"
        WRONG = "wrong", "Wrong answer"
        TRUNCATED_NO_ANSWER = "truncated_no_answer", "No answer (truncated)"
        NO_ANSWER = "no_answer", "No answer"
        UNGRADED = "ungraded", "Not graded"

    # Indexed by (project, id) and (project, model_name, id) below.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="traces", db_index=False
    )
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="traces")
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.IMPORT)
    state = models.CharField(max_length=16, choices=State.choices, default=State.READY)
    # NULL, not "", so runs and regenerations stay outside the unique constraint.
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    # Indexed by trace_unique_run_sample, whose first column it is.
    run = models.ForeignKey(
        "runs.Run",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="traces",
        db_index=False,
    )
    sample_index = models.PositiveIntegerField(null=True, blank=True)
    # The import that wrote it: a failed all-or-nothing import deletes its traces.
    import_job = models.ForeignKey(
        "prompts.ImportJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # a partial index below: run traces have none
    )
    # No db_index: on PostgreSQL it would add a second ``varchar_pattern_ops``
    # index nobody uses; (project, model_name) below serves the reads.
    model_name = models.CharField(max_length=300, blank=True)
    model_config = models.ForeignKey(
        "providers.ModelConfig",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # a partial index below: imported traces have none
        help_text="The config that generated it (runs and regenerations).",
    )

    raw_response = NulSafeTextField(blank=True)  # model output may hold NUL
    reasoning = NulSafeTextField(blank=True, help_text="A separate reasoning field, if any.")
    finish_reason = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    logprobs = NulSafeJSONField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = NulSafeTextField(blank=True)

    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="branches",
        db_index=False,  # a partial index below: most traces are no branch
    )
    branch_step = models.PositiveIntegerField(null=True, blank=True)
    # The parent's grading, copied onto each branch so the hint charts need no
    # join (issue 16). The database keeps them current: a trigger fills them on
    # every write of a branch and follows every change of its parent
    # (migration traces 0008).
    parent_final_correct = models.BooleanField(null=True, blank=True, editable=False)
    parent_thinking_chars = models.PositiveIntegerField(null=True, blank=True, editable=False)
    hint = NulSafeTextField(blank=True)
    continuation_mode = models.CharField(max_length=20, blank=True)
    continuation_prefix_chars = models.PositiveIntegerField(null=True, blank=True)
    continuation_prompt = models.TextField(
        blank=True,
        help_text="Exactly what was sent to continue: the raw prompt (mode b), "
        "or the chat messages as JSON (modes a and d).",
    )
    reasoning_tokens = models.PositiveIntegerField(
        null=True, blank=True, help_text="usage.completion_tokens_details.reasoning_tokens"
    )
    warnings = models.JSONField(
        default=list, blank=True, help_text="What was wrong with the provider's answer."
    )

    analysis = NulSafeJSONField(null=True, blank=True)
    analyzer_version = models.CharField(max_length=32, blank=True)
    n_steps = models.PositiveIntegerField(default=0)
    n_reflection_steps = models.PositiveIntegerField(default=0)
    has_reflection = models.BooleanField(default=False)
    has_corrective = models.BooleanField(default=False)
    truncated = models.BooleanField(default=False)
    final_answer = NulSafeTextField(blank=True)
    final_correct = models.BooleanField(null=True, blank=True)
    known_final_correct = models.BooleanField(
        null=True,
        blank=True,
        help_text="Correctness given with imported data (e.g. ProcessBench), used when "
        "there is no reference answer to grade against; survives re-analysis.",
    )
    first_correct = models.BooleanField(null=True, blank=True)
    # How the trace ended (``analysis.metrics.outcome``): a truncated trace
    # without an answer is its own outcome, not a wrong answer.
    outcome = models.CharField(max_length=24, choices=Outcome.choices, default=Outcome.UNGRADED)
    answer_reached_step = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Step of the first correct candidate (else of the first correct "
        "tentative 'so ... = X') in the thinking.",
    )
    reflection_share = models.FloatField(default=0)
    thinking_chars = models.PositiveIntegerField(default=0)
    # The per-trace numbers the dashboards chart, copied out of ``analysis`` at
    # analysis time so charts aggregate narrow columns instead of unnesting JSON.
    first_candidate_position = models.FloatField(null=True, blank=True)
    # Labelled reflections by kind and correctness transition (First Try Matters);
    # ``traces.analysis.REFLECTION_COUNT_COLUMNS`` maps (kind, transition) here.
    n_confirmatory_tt = models.PositiveSmallIntegerField(default=0)
    n_confirmatory_ff = models.PositiveSmallIntegerField(default=0)
    n_confirmatory_ft = models.PositiveSmallIntegerField(default=0)
    n_confirmatory_tf = models.PositiveSmallIntegerField(default=0)
    n_confirmatory_ungraded = models.PositiveSmallIntegerField(default=0)
    n_corrective_tt = models.PositiveSmallIntegerField(default=0)
    n_corrective_ff = models.PositiveSmallIntegerField(default=0)
    n_corrective_ft = models.PositiveSmallIntegerField(default=0)
    n_corrective_tf = models.PositiveSmallIntegerField(default=0)
    n_corrective_ungraded = models.PositiveSmallIntegerField(default=0)
    n_pre_answer = models.PositiveSmallIntegerField(default=0)
    n_trailing = models.PositiveSmallIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "prompt", "sample_index"],
                condition=Q(run__isnull=False),
                name="trace_unique_run_sample",
            ),
            models.UniqueConstraint(
                fields=["project", "external_id"],
                condition=Q(external_id__isnull=False),
                name="trace_unique_external_id",
            ),
        ]
        # Each index is read by a named query (measured by bench/bench_scale.py);
        # every other one only slowed imports down.
        indexes = [
            # The outcome filter (issue 14) in page order.
            models.Index(fields=["project", "outcome", "id"], name="trace_project_outcome"),
            # Lists (keyset pages in id order), the dashboards' data version (Max id).
            models.Index(fields=["project", "id"], name="trace_project_id"),
            # The model filter of lists, dashboards and exports; the model-name list.
            models.Index(fields=["project", "model_name", "id"], name="trace_project_model"),
            # The two list filters people use most, in page order: keyset and
            # bounded OFFSET pages and the capped count read only the index.
            models.Index(fields=["project", "final_correct", "id"], name="trace_project_correct"),
            models.Index(fields=["project", "has_reflection", "id"], name="trace_project_reflects"),
            # Branches of a trace (workspace, hint charts); cascades.
            models.Index(fields=["parent"], condition=Q(parent__isnull=False), name="trace_parent"),
            # The dashboards' two scans read only this (an index-only scan, no heap):
            # first-generation ready traces, by project and model. Key columns, not
            # INCLUDE, so SQLite covers the scans too (it has no INCLUDE).
            models.Index(
                fields=["project", "model_name", *CHART_COLUMNS],
                condition=Q(parent__isnull=True, state="ready"),
                name="trace_charts",
            ),
            # The run-throughput chart (index-only); imported traces are not in it.
            models.Index(
                fields=[
                    "project",
                    "created_at",
                    "run",
                    "model_name",
                    "origin",
                    "state",
                    "completion_tokens",
                ],
                condition=Q(run__isnull=False),
                name="trace_runs",
            ),
            # The hint charts (``dashboards.effort``): branches by project and model,
            # with the parent's grading copied onto them.
            models.Index(
                fields=[
                    "project",
                    "model_name",
                    "created_at",
                    "state",
                    "final_correct",
                    "parent_final_correct",
                ],
                condition=Q(parent__isnull=False),
                name="trace_branches",
            ),
            # A failed import's clean-up and its count of rows written; SET NULL.
            models.Index(
                fields=["import_job"],
                condition=Q(import_job__isnull=False),
                name="trace_import_job",
            ),
            # SET NULL when a model config is deleted.
            models.Index(
                fields=["model_config"],
                condition=Q(model_config__isnull=False),
                name="trace_model_config",
            ),
        ]

    def __str__(self) -> str:
        return f"Trace {self.pk}"

    @property
    def is_branch(self) -> bool:
        return self.parent_id is not None

    @property
    def step_text(self) -> str:
        """The text that the analysis' step offsets index.

        The reasoning field when the analysis extracted the thinking from it,
        else the raw response — decided by the stored extraction source, never
        by whether ``reasoning`` happens to be non-empty.
        """
        return step_text_of(self.raw_response, self.reasoning, self.analysis)


def step_text_of(raw_response: str, reasoning: str, analysis: dict | None) -> str:
    """``Trace.step_text`` for code that reads values() rows instead of instances."""
    extraction = (analysis or {}).get("extraction") or {}
    return step_text_for_source(raw_response, reasoning, extraction.get("source"))


def step_text_for_source(raw_response: str, reasoning: str, source: str | None) -> str:
    """``Trace.step_text`` from the extraction source alone (``analysis.extraction.source``).

    For readers that fetch only that key of the analysis, as exports do.
    """
    if source == "reasoning_field":
        return reasoning or ""
    return raw_response or ""


class GradeCacheEntry(models.Model):
    """A grade shared by every worker: (grader version, reference, answer) → correct.

    Keys are hashes (``analysis.grade.text_key``) of the normalised reference
    and of the answer; rows of another grader version are never read
    (``traces.grading``). ``scope_key``: the reference of the trace whose
    analysis made the comparison (a chunk preloads by it).
    """

    version = models.CharField(max_length=40)
    scope_key = models.CharField(max_length=32)
    reference_key = models.CharField(max_length=32)
    answer_key = models.CharField(max_length=32)
    correct = models.BooleanField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "reference_key", "answer_key"], name="grade_cache_key"
            )
        ]
        indexes = [models.Index(fields=["version", "scope_key"], name="grade_cache_scope")]

    def __str__(self) -> str:
        return f"{self.reference_key}/{self.answer_key}: {self.correct}"
