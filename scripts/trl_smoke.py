#!/usr/bin/env python3
"""Train ONE step of a TRL trainer on a dataset file, on CPU, with the tiny local model.

    .venv-model/bin/python scripts/trl_smoke.py KIND DATASET [options]
    .venv-model/bin/python scripts/trl_smoke.py KIND --demo        # built-in 2-4 row sample

KIND: sft | dpo | kto | prm | prm-tc
DATASET: a .jsonl/.json or .parquet file, or a folder `datasets.load_dataset` understands
(e.g. an export bundle with a README.md `configs` block; pick with --config/--split).

Schemas (TRL names):
  sft  conversational `messages` (reasoning as <think>..</think> in content, or a
       `reasoning_content` key), or `prompt`/`completion`
  dpo  `prompt`/`chosen`/`rejected` (explicit prompt; conversational or plain text)
  kto  `prompt`/`completion`/`label` (bool) (1 row works in TRL 1.13; the demo has 4)
  prm  `prompt`/`completions` (list[str])/`labels` (list[bool])  -- trl.experimental.prm (TRL <= 1.13)
  prm-tc  the same stepwise rows, any TRL (PRMTrainer was removed in 1.14): tokenized as
       PRMTrainer did (a step separator after each step, the step's label on its last
       token, -100 elsewhere) and trained by transformers' Trainer on
       AutoModelForTokenClassification -- see prm_tokenize()
Extra columns (e.g. meta_*) are left in the dataset: the trainers must ignore them.

Prints one JSON line {"ok", "kind", "rows", "columns", "train_loss", "seconds", ...};
exit 0 on success, 1 on failure (with the traceback on stderr).
The model dir defaults to var/tiny-model (built with build_tiny_model.py if missing).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DISABLE_MLFLOW_INTEGRATION", "TRUE")

THINK = "<think>\n3 + 4 = 7. Wait, let me re-check: 7 - 4 = 3.\n</think>\n\n"
DEMO = {
    "sft": [
        {
            "messages": [
                {"role": "user", "content": "What is 3 + 4?"},
                {"role": "assistant", "content": THINK + "\\boxed{7}"},
            ],
            "meta_trace_id": "t1",
        },
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "What is 2 + 2?"},
                {
                    "role": "assistant",
                    "content": "<think>\n2 + 2 = 5. Hint: recount. 2 + 2 = 4.\n</think>\n\n\\boxed{4}",
                },
            ],
            "meta_trace_id": "t2",
        },
    ],
    "dpo": [
        {
            "prompt": [{"role": "user", "content": "What is 3 + 4?"}],
            "chosen": [{"role": "assistant", "content": THINK + "\\boxed{7}"}],
            "rejected": [
                {"role": "assistant", "content": "<think>\n3 + 4 = 8.\n</think>\n\n\\boxed{8}"}
            ],
            "meta_pair_id": "p1",
        },
        {
            "prompt": [{"role": "user", "content": "What is 2 + 2?"}],
            "chosen": [
                {"role": "assistant", "content": "<think>\n2 + 2 = 4.\n</think>\n\n\\boxed{4}"}
            ],
            "rejected": [
                {"role": "assistant", "content": "<think>\n2 + 2 = 5.\n</think>\n\n\\boxed{5}"}
            ],
            "meta_pair_id": "p2",
        },
    ],
    "kto": [
        {
            "prompt": [{"role": "user", "content": "What is 3 + 4?"}],
            "completion": [{"role": "assistant", "content": THINK + "\\boxed{7}"}],
            "label": True,
            "meta_trace_id": "t1",
        },
        {
            "prompt": [{"role": "user", "content": "What is 3 + 4?"}],
            "completion": [
                {"role": "assistant", "content": "<think>\n3 + 4 = 8.\n</think>\n\n\\boxed{8}"}
            ],
            "label": False,
            "meta_trace_id": "t2",
        },
        {
            "prompt": [{"role": "user", "content": "What is 2 + 2?"}],
            "completion": [{"role": "assistant", "content": "\\boxed{4}"}],
            "label": True,
            "meta_trace_id": "t3",
        },
        {
            "prompt": [{"role": "user", "content": "What is 2 + 2?"}],
            "completion": [{"role": "assistant", "content": "\\boxed{5}"}],
            "label": False,
            "meta_trace_id": "t4",
        },
    ],
    "prm": [
        {
            "prompt": "What is 3 + 4 - 2?",
            "completions": ["3 + 4 = 7.", "7 - 2 = 5.", "The answer is \\boxed{5}."],
            "labels": [True, True, True],
            "meta_trace_id": "t1",
        },
        {
            "prompt": "What is 3 + 4 - 2?",
            "completions": ["3 + 4 = 8.", "8 - 2 = 6."],
            "labels": [True, False],
            "meta_trace_id": "t2",
        },
    ],
}


def load(path: str, config: str | None, split: str):
    import datasets

    p = Path(path)
    if p.is_dir():
        ds = datasets.load_dataset(str(p), name=config, split=split)
    elif p.suffix in (".jsonl", ".json"):
        ds = datasets.load_dataset("json", data_files=str(p), split="train")
    elif p.suffix == ".parquet":
        ds = datasets.load_dataset("parquet", data_files=str(p), split="train")
    else:
        raise SystemExit(
            f"unsupported dataset path {path!r} (want .jsonl, .json, .parquet or a folder)"
        )
    return ds


STEP_SEPARATOR = "\n"


def prm_tokenize(row: dict, tok, max_length: int = 512, separator: str = STEP_SEPARATOR) -> dict:
    """One stepwise row as token-classification features, as TRL 1.13's PRMTrainer made them.

    prompt ids (after BOS), then each step's ids followed by the separator's;
    the step's label (0/1) sits on the separator's last token, every other
    position is -100 (no loss). Truncated to ``max_length`` from the right.
    """
    sep = tok.encode(separator, add_special_tokens=False)
    prompt = tok(row["prompt"], add_special_tokens=False)["input_ids"]
    if tok.bos_token_id is not None:
        prompt = [tok.bos_token_id, *prompt]
    ids, labels = list(prompt), [-100] * len(prompt)
    for step, good in zip(row["completions"], row["labels"], strict=True):
        step_ids = tok(step, add_special_tokens=False)["input_ids"] + sep
        ids += step_ids
        labels += [-100] * (len(step_ids) - 1) + [int(good)]
    return {"input_ids": ids[:max_length], "labels": labels[:max_length]}


def prm_token_classification(ds, tok, model_dir: Path, common: dict):
    """A PRM on any TRL: transformers' Trainer + AutoModelForTokenClassification."""
    from transformers import (
        AutoModelForTokenClassification,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
    )

    model = AutoModelForTokenClassification.from_pretrained(model_dir, num_labels=2)
    model.config.pad_token_id = tok.pad_token_id
    features = ds.map(lambda row: prm_tokenize(row, tok), remove_columns=ds.column_names, desc=None)
    return Trainer(
        model=model,
        args=TrainingArguments(**common, remove_unused_columns=False),
        train_dataset=features,
        data_collator=DataCollatorForTokenClassification(tok),
        processing_class=tok,
    )


def ensure_model(model_dir: Path) -> None:
    if not (model_dir / "model.safetensors").is_file():
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "build_tiny_model.py"), str(model_dir)],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def run(
    kind: str, ds, model_dir: Path, out_dir: str, assistant_only_loss: bool, max_steps: int
) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForTokenClassification, AutoTokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(model_dir)
    common = {
        "output_dir": out_dir,
        "max_steps": max_steps,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "learning_rate": 1e-4,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "use_cpu": True,
        "seed": 0,
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
    }
    if kind == "sft":
        from trl import SFTConfig, SFTTrainer

        model = AutoModelForCausalLM.from_pretrained(model_dir)
        args = SFTConfig(
            **common, max_length=512, assistant_only_loss=assistant_only_loss, dataset_num_proc=None
        )
        trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    elif kind == "dpo":
        from trl import DPOConfig, DPOTrainer

        model = AutoModelForCausalLM.from_pretrained(model_dir)
        args = DPOConfig(**common, max_length=512)
        trainer = DPOTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    elif kind == "kto":
        from trl import KTOConfig, KTOTrainer

        model = AutoModelForCausalLM.from_pretrained(model_dir)
        args = KTOConfig(**common, max_length=512)
        trainer = KTOTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    elif kind == "prm":
        from trl.experimental.prm import PRMConfig, PRMTrainer

        model = AutoModelForTokenClassification.from_pretrained(model_dir, num_labels=2)
        model.config.pad_token_id = tok.pad_token_id
        args = PRMConfig(**common, max_length=512)
        trainer = PRMTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    elif kind == "prm-tc":
        trainer = prm_token_classification(ds, tok, model_dir, common)
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    result = trainer.train()
    import trl

    return {
        "train_loss": result.training_loss,
        "global_step": result.global_step,
        "trainer": type(trainer).__name__,
        "trl": trl.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=["sft", "dpo", "kto", "prm", "prm-tc"])
    ap.add_argument("dataset", nargs="?", help="dataset file or folder")
    ap.add_argument(
        "--demo",
        action="store_true",
        help="use a built-in sample dataset (written to a temp .jsonl)",
    )
    ap.add_argument("--config", default=None, help="config name when DATASET is a folder")
    ap.add_argument(
        "--split", default="train", help="split when DATASET is a folder (default train)"
    )
    ap.add_argument(
        "--model",
        default=str(ROOT / "var" / "tiny-model"),
        help="model dir (default var/tiny-model)",
    )
    ap.add_argument(
        "--assistant-only-loss",
        action="store_true",
        help="sft: SFTConfig(assistant_only_loss=True)",
    )
    ap.add_argument("--max-steps", type=int, default=1)
    args = ap.parse_args(argv)
    if bool(args.dataset) == bool(args.demo):
        ap.error("give DATASET or --demo")

    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()

    model_dir = Path(args.model)
    t0 = time.monotonic()
    info: dict = {"ok": False, "kind": args.kind}
    with tempfile.TemporaryDirectory(prefix="trl-smoke-") as tmp:
        try:
            ensure_model(model_dir)
            path = args.dataset
            if args.demo:
                path = os.path.join(tmp, f"{args.kind}.jsonl")
                with open(path, "w") as f:
                    for row in DEMO[args.kind.removesuffix("-tc")]:
                        f.write(json.dumps(row) + "\n")
            ds = load(path, args.config, args.split)
            info.update(rows=len(ds), columns=ds.column_names)
            with contextlib.redirect_stdout(
                sys.stderr
            ):  # Trainer prints its log dicts; keep stdout one JSON line
                info.update(
                    run(
                        args.kind,
                        ds,
                        model_dir,
                        os.path.join(tmp, "out"),
                        args.assistant_only_loss,
                        args.max_steps,
                    )
                )
            info["ok"] = True
        except Exception as e:  # report, then fail
            traceback.print_exc()
            info["error"] = f"{type(e).__name__}: {e}"
    info["seconds"] = round(time.monotonic() - t0, 2)
    print(json.dumps(info))
    return 0 if info["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
