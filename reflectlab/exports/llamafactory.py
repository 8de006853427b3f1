"""LLaMA-Factory's shapes of our rows, and the ``dataset_info.json`` that registers them.

From LLaMA-Factory's ``data/README.md``: a ``sharegpt`` dataset with OpenAI-style
``messages`` (``tags`` role/content/user/assistant/system) for SFT; for
preference data ``"ranking": true`` with the conversation in ``messages`` and
``chosen`` / ``rejected`` each *one* message; for KTO the conversation plus a
boolean column named by ``columns.kto_tag``. The files sit under
``llamafactory/`` in the bundle with that folder's ``dataset_info.json``, so
``dataset_dir: <bundle>/llamafactory`` and ``dataset: <name>`` train them.
"""

from __future__ import annotations

from typing import Any

TAGS = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "system_tag": "system",
}


def _plain(m: dict) -> dict:
    return {"role": m["role"], "content": m["content"]}


def _sft(row: dict) -> dict:
    return {"messages": [_plain(m) for m in row["messages"]]}


def _prompt_completion(row: dict) -> dict:
    return {"messages": [_plain(m) for m in [*row["prompt"], *row["completion"]]]}


def _preference(row: dict) -> dict:
    return {
        "messages": [_plain(m) for m in row["prompt"]],
        "chosen": _plain(row["chosen"][-1]),
        "rejected": _plain(row["rejected"][-1]),
    }


def _kto(row: dict) -> dict:
    return {**_prompt_completion(row), "kto_tag": bool(row["label"])}


def _entry(**extra: Any) -> dict:
    return {"formatting": "sharegpt", **extra, "tags": TAGS}


# config -> (row shape, dataset_info entry without file_name)
SHAPES = {
    "sft_corrected": (_sft, _entry(columns={"messages": "messages"})),
    # user_turn rows: the original answer is in the prompt; LLaMA-Factory trains every
    # assistant turn unless `mask_history: true`, so the card says to set it.
    "sft_corrected_prompt_completion": (
        _prompt_completion,
        _entry(columns={"messages": "messages"}),
    ),
    "preference": (
        _preference,
        _entry(
            ranking=True,
            columns={"messages": "messages", "chosen": "chosen", "rejected": "rejected"},
        ),
    ),
    "unpaired": (_kto, _entry(columns={"messages": "messages", "kto_tag": "kto_tag"})),
    "critique": (_prompt_completion, _entry(columns={"messages": "messages"})),
}


def llamafactory_row(config: str, row: dict) -> dict | None:
    shape = SHAPES.get(config)
    return shape[0](row) if shape else None


def llamafactory_path(config: str, split: str) -> str:
    return f"llamafactory/{config}/{split}.jsonl"


def dataset_info(counts: dict[str, dict[str, int]]) -> dict[str, dict]:
    """``dataset_info.json`` (paths relative to ``llamafactory/``): one dataset per config+split."""
    info = {}
    for config, (_, entry) in SHAPES.items():
        for split, rows in sorted(counts.get(config, {}).items()):
            if rows:
                info[f"{config}_{split}"] = {"file_name": f"{config}/{split}.jsonl", **entry}
    return info
