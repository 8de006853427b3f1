"""Trainer-ready, proven: our exports load with ``datasets`` and train one TRL step each.

Runs in two virtualenvs (Python 3.11, torch 2.13.0 CPU): the model venv with
TRL 1.13 (``scripts/model_env.sh``; ``$REFLECTLAB_MODEL_VENV`` or
``.venv-model``) and the newest TRL installable here (``scripts/model_env.sh
--trl-new``; ``$REFLECTLAB_TRL_NEW_VENV`` or ``.venv-trl-new``). TRL 1.14 removed
PRMTrainer, so the stepwise export trains there through ``prm-tc``
(transformers' token-classification Trainer), in both venvs. Skipped with a
reason when a venv is absent, a failure in CI (``CI=true``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from reflectlab.exports.kinds import KINDS
from reflectlab.exports.schemas import Context
from reflectlab.exports.splits import parse_splits
from tests.ci import missing
from tests.exports.factories import AnnotationFactory, corrected_annotation, reflective_annotation
from tests.factories import PromptFactory, TraceFactory

pytestmark = pytest.mark.slow

ROOT = Path(settings.BASE_DIR)
VENV = Path(os.environ.get("REFLECTLAB_MODEL_VENV", ROOT / ".venv-model"))
PYTHON = VENV / "bin" / "python"
NEW_VENV = Path(os.environ.get("REFLECTLAB_TRL_NEW_VENV", ROOT / ".venv-trl-new"))
PYTHONS = {"trl-1.13": PYTHON, "trl-new": NEW_VENV / "bin" / "python"}
SMOKE = ROOT / "scripts" / "trl_smoke.py"
ONE_SPLIT = {"splits": {"train": 1.0}}


def _need_venv():
    if not PYTHON.exists():
        missing(f"no model virtualenv at {VENV} (scripts/model_env.sh builds it)")
    if not SMOKE.exists():
        missing("scripts/trl_smoke.py is missing")


def _schemas():
    ctx = Context({}, parse_splits(None))
    return {c.name: c.schema for kind in KINDS.values() for c in kind.configs(ctx)}


@pytest.fixture
def exported(project, run_export, tmp_path):
    _need_venv()
    for i in range(3):
        prompt = PromptFactory(project=project, external_id=f"q{i}")
        corrected_annotation(project, **({} if i else {"with_prefix": False}))
        AnnotationFactory(
            trace=TraceFactory(project=project, prompt=prompt),
            project=project,
            first_error_step=-1,
            step_labels={"0": 1},
            verdict="correct",
            critique="Sound.",
        )
    reflective_annotation(project)  # step_preference pairs and reflection_quality rows
    out = tmp_path / "out"
    out.mkdir()
    bundle = run_export("all", "bundle", options=ONE_SPLIT)
    with zipfile.ZipFile(bundle.path) as zf:
        zf.extractall(out / "bundle")
    files = {}
    for name in _schemas():
        kind = next(
            k
            for k, v in KINDS.items()
            if name in [c.name for c in v.configs(Context({}, parse_splits(None)))]
        )
        if kind == "canonical":
            continue  # nested records: checked by the bundle's Parquet
        for fmt in ("jsonl", "parquet"):
            export = run_export(kind, fmt, options={**ONE_SPLIT, "variant": name})
            dest = out / f"{name}.{fmt}"
            shutil.copyfile(export.path, dest)
            files[(name, fmt)] = dest
    return out, files


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """Our own copy of the tiny model, so a rebuild elsewhere cannot race this test."""
    _need_venv()
    model = tmp_path_factory.mktemp("tiny-model")
    result = _venv(ROOT / "scripts" / "build_tiny_model.py", model)
    assert result.returncode == 0, result.stderr[-3000:]
    return model


def _venv(*args, timeout=300, python=PYTHON):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [str(python), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def test_every_export_loads_with_datasets_and_its_declared_types(exported, tmp_path):
    out, files = exported
    schemas = _schemas()
    cases = []
    for name, schema in schemas.items():
        path = tmp_path / f"{name}.schema"
        path.write_bytes(schema.serialize().to_pybytes())
        cases.append(
            {"path": str(out / "bundle"), "config": name, "schema": str(path), "fmt": "bundle"}
        )
        for fmt in ("jsonl", "parquet"):
            if (name, fmt) in files:
                cases.append({"path": str(files[(name, fmt)]), "schema": str(path), "fmt": fmt})
    spec = tmp_path / "cases.json"
    spec.write_text(json.dumps(cases))
    result = _venv(Path(__file__).with_name("model_venv_check.py"), spec)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(cases)
    for case, line in zip(cases, lines, strict=True):
        expected = schemas[case.get("config") or Path(case["path"]).stem]
        assert line["columns"] == expected.names, line
        assert line["rows"] > 0
        if case["fmt"] != "jsonl":  # JSON infers types; Parquet keeps the declared ones
            assert line["schema_equal"], line
    by_name = {(Path(line["path"]).stem, line["config"]): line for line in lines}
    assert by_name[("stepwise", None)]["types"]["labels"] == "list<item: bool>"
    assert by_name[("unpaired", None)]["types"]["label"] == "bool"
    assert by_name[("processbench", None)]["types"]["label"] == "int64"


TRAINERS = [
    ("sft", "bundle", "sft_corrected", []),
    ("sft", "jsonl", "sft_corrected", ["--assistant-only-loss"]),
    ("sft", "parquet", "sft_corrected_prompt_completion", []),
    ("sft", "bundle", "critique", []),
    ("dpo", "parquet", "preference", []),
    ("dpo", "jsonl", "step_preference", []),
    ("dpo", "bundle", "step_preference", []),
    ("kto", "bundle", "unpaired", []),
    ("prm-tc", "bundle", "stepwise", []),
    ("prm-tc", "jsonl", "stepwise", []),
]
CASES = [("trl-1.13", *t) for t in [*TRAINERS, ("prm", "jsonl", "stepwise", [])]] + [
    ("trl-new", *t) for t in TRAINERS
]


@pytest.mark.parametrize(("venv", "trainer", "fmt", "config", "flags"), CASES)
def test_trl_trains_one_step_on_our_export(exported, tiny_model, venv, trainer, fmt, config, flags):
    python = PYTHONS[venv]
    if not python.exists():
        missing(f"no {venv} virtualenv at {python.parent.parent} (scripts/model_env.sh builds it)")
    out, files = exported
    args = [out / "bundle", "--config", config] if fmt == "bundle" else [files[config, fmt]]
    result = _venv(SMOKE, trainer, *args, *flags, "--model", tiny_model, python=python)
    info = json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else {}
    assert result.returncode == 0 and info.get("ok"), result.stderr[-3000:]
    assert info["global_step"] == 1
    if venv == "trl-new":
        assert not info["trl"].startswith("1.13"), info
    print(json.dumps(info))
