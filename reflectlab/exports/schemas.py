"""What every export table shares: options, the Arrow schemas and the ``meta_*`` columns.

Column names follow TRL; provenance rides in ``meta_*`` scalars plus one
``meta_json`` string, and no column that changes a trainer's behaviour
(``labels`` outside stepwise, ``label`` outside KTO/ProcessBench, ``margin``,
``input_ids``, ``text``, ``messages`` outside SFT …) is ever emitted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

SCHEMA_VERSION = 1

HINT_MODES = ("inline", "stripped", "user_turn")
REASONING_STYLES = ("think_tags", "reasoning_content")
BRANCH_FILTERS = ("correct", "finished")

FORBIDDEN_COLUMNS = {"margin", "input_ids", "tools", "images", "conversations", "text"}

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGE_WITH_REASONING = pa.struct(
    [("role", pa.string()), ("content", pa.string()), ("reasoning_content", pa.string())]
)

META_FIELDS = [
    pa.field("meta_trace_id", pa.int64()),
    pa.field("meta_prompt_id", pa.int64()),
    pa.field("meta_prompt_external_id", pa.string()),
    pa.field("meta_annotation_id", pa.int64()),
    pa.field("meta_annotator", pa.string()),
    pa.field("meta_model", pa.string()),
    pa.field("meta_run_id", pa.int64()),
    pa.field("meta_branch_trace_id", pa.int64()),
    pa.field("meta_split", pa.string()),
    pa.field("meta_json", pa.string()),
]

PROCESSBENCH_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("generator", pa.string()),
        pa.field("problem", pa.string()),
        pa.field("steps", pa.list_(pa.string())),
        pa.field("final_answer_correct", pa.bool_()),
        pa.field("label", pa.int64()),
        # ProcessBench's subset (gsm8k, math, olympiadbench, omnimath): the prompt's
        # metadata "subset", null for problems from elsewhere.
        pa.field("subset", pa.string()),
    ]
)


@dataclass(frozen=True)
class Config:
    """One table of an export: a bundle folder, or the single file of a plain export."""

    name: str
    schema: pa.Schema
    description: str


@dataclass
class Context:
    """An export's options, with the ones every row reads looked up once."""

    options: dict[str, Any]
    splits: list[tuple[str, float]]
    principles: list[str] = field(default_factory=list)
    reasoning_key: bool = field(init=False)
    hint_mode: str = field(init=False)
    correct_branches_only: bool = field(init=False)
    judge_labels: bool = field(init=False)
    # Why source records gave a kind no rows: {kind: Counter(reason)}, for an empty export's
    # explanation ("0 branches graded right") in the manifest, the card, the UI and the API.
    skips: dict[str, Counter] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.judge_labels = bool(self.options.get("judge_labels"))
        self.reasoning_key = self.options.get("reasoning") == "reasoning_content"
        self.hint_mode = self.options.get("hint_mode", "inline")
        self.correct_branches_only = self.options.get("branch_filter", "correct") == "correct"

    def skip(self, kind: str, reason: str) -> None:
        counter = self.skips.get(kind)
        if counter is None:
            counter = self.skips[kind] = Counter()
        counter[reason] += 1


def with_meta(*fields: pa.Field) -> pa.Schema:
    return pa.schema([*fields, *META_FIELDS])


def messages_type(ctx: Context) -> pa.DataType:
    return pa.list_(MESSAGE_WITH_REASONING if ctx.reasoning_key else MESSAGE)
