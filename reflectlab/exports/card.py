"""The bundle's dataset card: YAML ``configs`` + explicit ``features``, and what to know to train.

Every config lists every split with its Parquet file (an empty split is a
0-row file), so ``datasets.load_dataset(<folder>, <config>)`` never falls back
to guessing data files — which picked up ``manifest.json`` — and the declared
``features`` keep every split's types whichever split is read first (a split
of all-null values is typed ``null`` when inferred).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import yaml

from reflectlab.exports.schemas import Config

SCALARS = {
    pa.string(): "string",
    pa.bool_(): "bool",
    pa.int64(): "int64",
    pa.int32(): "int32",
    pa.float64(): "float64",
    pa.float32(): "float32",
}


def _feature(t: pa.DataType) -> dict[str, Any]:
    """One Arrow type as the card's YAML feature (the shape ``datasets.Features`` writes)."""
    if t in SCALARS:
        return {"dtype": SCALARS[t]}
    if pa.types.is_list(t):
        inner = t.value_type
        if pa.types.is_struct(inner):
            return {"list": [{"name": f.name, **_feature(f.type)} for f in inner]}
        return {"list": SCALARS[inner]}
    if pa.types.is_struct(t):
        return {"struct": [{"name": f.name, **_feature(f.type)} for f in t]}
    raise ValueError(f"no card feature for Arrow type {t}")


def features(schema: pa.Schema) -> list[dict[str, Any]]:
    return [{"name": f.name, **_feature(f.type)} for f in schema]


def _stats_cell(stats: dict[str, Any] | None, unit: str) -> str:
    s = (stats or {}).get(unit)
    return f"{s['min']} / {s['median']} / {s['p95']} / {s['max']}" if s else "-"


def dataset_card(
    *,
    title: str,
    configs: list[Config],
    splits: list[str],
    default: str | None,
    manifest: dict[str, Any],
) -> str:
    """A Hugging Face dataset card whose YAML makes the folder loadable, config by config."""
    front = {
        "configs": [
            {
                "config_name": c.name,
                **({"default": True} if c.name == default else {}),
                "data_files": [
                    {"split": s, "path": f"data/{c.name}/{s}-00000-of-00001.parquet"}
                    for s in splits
                ],
            }
            for c in configs
        ],
        "dataset_info": [{"config_name": c.name, "features": features(c.schema)} for c in configs],
    }
    lines = ["---", yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip(), "---"]
    lines += ["", f"# {title}", ""]
    notes = manifest.get("warnings", []) + list(manifest.get("empty", {}).values())
    if notes:
        lines += [f"> **Note:** {n}" for n in manifest.get("warnings", [])]
        lines += [f"> **Empty `{k}`:** {v}" for k, v in manifest.get("empty", {}).items()]
        lines.append("")
    lines += [
        "Exported by reflectlab. Load a config with "
        "`datasets.load_dataset(<this folder>, <config>)`; JSONL mirrors of every "
        "Parquet file sit under `jsonl/`. `manifest.json` lists every file with its "
        "row count and sha256. Splits are assigned by a hash of the prompt id, so all "
        "rows of one problem share a split.",
        "",
        f"Schema version {manifest['schema_version']}, reflectlab {manifest['app_version']}.",
        "",
        "| config | rows | what |",
        "|---|---|---|",
    ]
    for c in configs:
        rows = sum(manifest["counts"].get(c.name, {}).values())
        lines.append(f"| `{c.name}` | {rows} | {c.description} |")
    lines += [
        "",
        "## Lengths",
        "",
        "Training text per row (min / median / p95 / max). TRL drops or truncates rows "
        "longer than `max_length`: set it above the p95 you want to keep. Tokens are "
        "counted without the chat template's markup.",
        "",
        "| config | chars | tokens |",
        "|---|---|---|",
    ]
    for name, stats in manifest.get("lengths", {}).items():
        lines.append(
            f"| `{name}` | {_stats_cell(stats, 'chars')} | {_stats_cell(stats, 'tokens')} |"
        )
    lines += [
        "",
        "## Training",
        "",
        "- `sft_corrected`, `sft_corrected_prompt_completion`, `critique`: TRL `SFTTrainer`. "
        "With the `user_turn` hint mode only the prompt/completion table is written, so the "
        "loss never covers the original wrong answer.",
        "- `preference`: TRL `DPOTrainer` (explicit prompt); `unpaired`: `KTOTrainer`.",
        "- `stepwise`: `trl.experimental.prm.PRMTrainer` up to TRL 1.13. TRL 1.14 removed it: "
        "tokenize each row as it did (prompt, then every step followed by a `\\n` separator "
        "whose last token carries the step's label, -100 elsewhere) and train "
        "`AutoModelForTokenClassification(num_labels=2)` with transformers' `Trainer` — "
        "reflectlab's `scripts/trl_smoke.py prm-tc` does exactly that.",
        "- LLaMA-Factory: `llamafactory/dataset_info.json` registers the SFT (sharegpt), "
        "preference (`ranking: true`) and KTO (`kto_tag`) files; set "
        "`dataset_dir: <this folder>/llamafactory` and `dataset: <config>_<split>` "
        "(`mask_history: true` for prompt/completion rows).",
    ]
    if manifest.get("training_template"):
        lines.append(
            "- `templates/chat_template_keep_reasoning.jinja`: a training chat template that "
            "keeps the reasoning (and marks assistant turns with `{% generation %}` for "
            "`assistant_only_loss`)."
        )
    lines += ["", "Columns prefixed `meta_` are provenance; trainers ignore them.", ""]
    return "\n".join(lines)
