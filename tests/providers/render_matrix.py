"""Run inside the model virtualenv (transformers): render continuation prompts
through each family's tiny tokenizer.

    python render_matrix.py SPEC.json

SPEC: {"out": DIR, "families": [...], "cases": [{"messages": [...], "prefix": str}]}.
Prints one JSON object: family -> list (per case) of {"prefill": what a server
renders for mode (a) (``continue_final_message=True``), "tokenizer": reflectlab's
tokenizer-directory path, "preset": reflectlab's preset (or null)}.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import build_tiny_model  # noqa: E402

from reflectlab.providers import chat_templates  # noqa: E402 (pure Python, no Django)

PRESET = {"chatml": "chatml", "qwq": "chatml", "qwen3": "qwen3", "deepseek_r1": "deepseek_r1",
          "llama3": "llama3"}  # fmt: skip

spec = json.loads(Path(sys.argv[1]).read_text())
out = {}
for family in spec["families"]:
    folder = Path(spec["out"]) / family
    build_tiny_model.build_family_tokenizer(folder, family, seed=7, vocab_size=400, corpus_size=60)
    rows = []
    for case in spec["cases"]:
        messages, prefix = case["messages"], case["prefix"]
        rows.append(
            {
                "prefill": chat_templates.render_prefill(str(folder), messages, prefix),
                "tokenizer": chat_templates.render_continuation(
                    template="tokenizer",
                    messages=messages,
                    assistant_prefix=prefix,
                    tokenizer_dir=str(folder),
                ),
                "preset": chat_templates.render_preset(PRESET[family], messages, prefix),
            }
        )
    out[family] = rows
print(json.dumps(out))
