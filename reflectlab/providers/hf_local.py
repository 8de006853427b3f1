"""Local Hugging Face model provider (optional extra).

Any model directory on disk, CPU or GPU, with real per-token logprobs. Install
the extra into the virtualenv that runs the Celery workers::

    .venv/bin/pip install torch transformers   # CPU: see scripts/README.md

The model is loaded once per worker process and shared by its threads (a
lock serialises ``generate`` — one local model computes one sequence at a time).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from reflectlab.providers.base import (
    Generation,
    GenerationRequest,
    PermanentProviderError,
    Sampling,
)

INSTALL_HINT = (
    "The local Hugging Face provider needs the optional packages torch and transformers: "
    "`.venv/bin/pip install torch transformers` (see README, 'Local models')."
)

_cache: dict[str, tuple[Any, Any]] = {}
_cache_lock = threading.Lock()


def _import():
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise PermanentProviderError(INSTALL_HINT) from exc
    return torch, transformers


def _load(model_path: str):
    torch, transformers = _import()
    with _cache_lock:
        if model_path not in _cache:
            try:
                tokenizer = transformers.AutoTokenizer.from_pretrained(model_path)
                model = transformers.AutoModelForCausalLM.from_pretrained(model_path)
            except (OSError, ValueError) as exc:
                raise PermanentProviderError(f"Cannot load {model_path}: {exc}") from exc
            model.to("cuda" if torch.cuda.is_available() else "cpu").eval()
            _cache[model_path] = (tokenizer, model)
        return _cache[model_path]


class HFLocalProvider:
    def __init__(self, *, model_path: str):
        self.model_path = model_path
        self._lock = threading.Lock()

    def close(self) -> None:
        pass

    def generate(self, request: GenerationRequest) -> Generation:
        tokenizer, _model = _load(self.model_path)
        if request.prompt is not None:
            text = request.prompt
        else:
            text = tokenizer.apply_chat_template(
                request.messages,
                tokenize=False,
                add_generation_prompt=not request.continue_final_message,
                continue_final_message=request.continue_final_message,
            )
        return self._generate_text(text, request.sampling)

    def continue_from(
        self,
        *,
        messages: list[dict[str, Any]],
        assistant_prefix: str,
        mode: str,
        sampling: Sampling,
    ) -> Generation:
        tokenizer, _model = _load(self.model_path)
        if mode == "user_turn":
            return self.generate(GenerationRequest(sampling=sampling, messages=messages))
        # Modes a, b and c are one thing locally: render the conversation with
        # the model's own template up to the open assistant turn, append the
        # raw prefix (thinking so far + hint) and let the model continue (c).
        head = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        if "<think>" in head[-20:] and assistant_prefix.lstrip().startswith("<think>"):
            assistant_prefix = assistant_prefix.lstrip()[len("<think>") :]
        return self._generate_text(head + assistant_prefix, sampling)

    def _generate_text(self, text: str, sampling: Sampling) -> Generation:
        torch, _ = _import()
        tokenizer, model = _load(self.model_path)
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
        started = time.perf_counter()
        with self._lock, torch.no_grad():
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed)
            out = model.generate(
                **inputs,
                max_new_tokens=sampling.max_tokens,
                do_sample=sampling.temperature > 0,
                temperature=sampling.temperature if sampling.temperature > 0 else None,
                top_p=sampling.top_p,
                output_scores=True,
                return_dict_in_generate=True,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
        latency_ms = int((time.perf_counter() - started) * 1000)
        prompt_len = inputs["input_ids"].shape[1]
        new_ids = out.sequences[0][prompt_len:]
        logprobs = self._logprobs(torch, tokenizer, out.scores, new_ids, sampling.top_logprobs)
        eos = tokenizer.eos_token_id
        finished = len(new_ids) > 0 and int(new_ids[-1]) == eos
        return Generation(
            content=tokenizer.decode(new_ids, skip_special_tokens=True),
            finish_reason="stop" if finished or len(new_ids) < sampling.max_tokens else "length",
            prompt_tokens=int(prompt_len),
            completion_tokens=len(new_ids),
            logprobs=logprobs if sampling.logprobs else None,
            latency_ms=latency_ms,
            model=self.model_path,
        )

    @staticmethod
    def _logprobs(torch, tokenizer, scores, new_ids, top_k: int) -> list[dict[str, Any]]:
        """Real log-probabilities of the sampled tokens (and the top-k alternatives)."""
        entries = []
        for step, token_id in enumerate(new_ids.tolist()):
            if step >= len(scores):
                break
            logp = torch.log_softmax(scores[step][0].float(), dim=-1)
            value = float(logp[token_id])
            top = []
            if top_k:
                values, ids = torch.topk(logp, top_k)
                top = [
                    {"token": tokenizer.decode([i]), "logprob": float(v)}
                    for v, i in zip(values.tolist(), ids.tolist(), strict=True)
                    if not math.isinf(v)
                ]
            entries.append(
                {"token": tokenizer.decode([token_id]), "logprob": value, "top_logprobs": top}
            )
        return entries
