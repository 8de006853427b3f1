from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from django.core.management import call_command

from reflectlab.analysis import ANALYZER_VERSION, Lexicon
from reflectlab.analysis.lexicon import LEXICON_VERSION
from reflectlab.traces import analysis as analysis_bridge
from reflectlab.traces.models import Trace
from reflectlab.traces.services import current_version, traces_reanalyze
from tests.factories import ProjectFactory, TraceFactory

ROOT = Path(__file__).resolve().parents[2]


def test_analyze_command_needs_no_database(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps(
            {
                "id": "a",
                "question": "q",
                "reference_answer": "#### 5",
                "response": "2+3=5.\n\nWait, let me check: 5.\n</think>\n\\boxed{5}",
            }
        )
        + "\n"
        + json.dumps({"id": "b", "response": "Hmm.\n\nAlternatively 4", "reference_answer": "4"})
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}
    subprocess.run(
        [sys.executable, "manage.py", "analyze", "--input", str(source), "--output", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    first = rows[0]
    assert first["final_answer"] == "5" and first["final_correct"] is True
    assert first["truncated"] is False
    assert [s["kind"] for s in first["steps"]] == ["execution", "reflection"]
    assert first["steps"][1]["cue"].lower() == "wait"
    assert {"step", "start", "end", "value", "correct"} <= set(first["candidates"][0])
    assert rows[1]["truncated"] is True


def test_analyze_command_takes_the_trace_import_mapping(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"key": "k", "gold": "7", "output": "\\boxed{7}"}) + "\n")
    out = tmp_path / "out.jsonl"
    call_command(
        "analyze",
        "--input",
        str(source),
        "--output",
        str(out),
        "--map",
        "external_id=key",
        "--map",
        "reference_answer=gold",
        "--map",
        "response=output",
    )
    row = json.loads(out.read_text())
    assert (row["id"], row["final_correct"]) == ("k", True)


@pytest.mark.django_db
def test_reanalyze_updates_traces_of_an_older_version():
    trace = TraceFactory()
    Trace.objects.filter(pk=trace.pk).update(analyzer_version="0", n_steps=0)
    call_command("reanalyze", verbosity=0)
    trace.refresh_from_db()
    assert trace.analyzer_version != "0" and trace.n_steps == 3


@pytest.mark.django_db
def test_reanalysis_keeps_correctness_given_with_the_data_when_nothing_can_be_graded():
    trace = TraceFactory()
    trace.prompt.reference_answer = ""
    trace.prompt.save()
    Trace.objects.filter(pk=trace.pk).update(
        known_final_correct=False, final_correct=False, analyzer_version="0"
    )
    call_command("reanalyze", verbosity=0)
    trace.refresh_from_db()
    assert trace.final_correct is False


def test_the_stored_analysis_fields_are_exactly_what_the_analysis_fills():
    from reflectlab.traces.analysis import ANALYSIS_FIELDS, analysis_columns

    assert set(analysis_columns(response="a</think>\\boxed{1}")) == set(ANALYSIS_FIELDS)


@pytest.mark.django_db
def test_a_project_lexicon_with_its_own_version_follows_the_default_lexicon(monkeypatch):
    """Its untouched cue classes come from the default, so a new default makes it stale."""
    project = ProjectFactory(lexicon={"version": "acme-2", "weak_start": ["but"]})
    now = current_version(project)
    assert now == f"{ANALYZER_VERSION}+lex{LEXICON_VERSION}.acme-2"
    trace = TraceFactory(project=project)
    Trace.objects.filter(pk=trace.pk).update(analyzer_version=now)
    newer = replace(Lexicon.default(), version="next")
    monkeypatch.setattr(Lexicon, "default", classmethod(lambda cls: newer))
    analysis_bridge._lexicon.cache_clear()
    try:
        assert current_version(project) == f"{ANALYZER_VERSION}+lexnext.acme-2"
        assert traces_reanalyze(project=project) == 1
    finally:
        analysis_bridge._lexicon.cache_clear()
