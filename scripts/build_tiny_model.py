#!/usr/bin/env python3
"""Build a tiny random Qwen2 chat model + tokenizer with no download.

    .venv-model/bin/python scripts/build_tiny_model.py [OUT_DIR] [--seed N] [--vocab-size N] [--force]
        [--family chatml|qwq|deepseek_r1|qwen3|llama3] [--tokenizer-only]

OUT_DIR defaults to var/tiny-model (relative to the repo root). The result is a
normal Hugging Face model directory (config.json, model.safetensors,
generation_config.json, tokenizer.json, tokenizer_config.json, chat_template.jinja)
that `transformers serve`, `AutoModelForCausalLM`/`AutoTokenizer` and TRL load offline.

- Tokenizer: byte-level BPE trained with `tokenizers` on generated math-ish text,
  with Qwen2's NFC normalizer, split pre-tokenizer regex and ByteLevel decoder, so
  AutoTokenizer (Qwen2Tokenizer) tokenizes exactly like the trained tokenizer.
  Added tokens: <|endoftext|>, <|im_start|>, <|im_end|> (special) and <think>, </think>
  (not special, so they survive skip_special_tokens like in Qwen3).
- Chat template: ChatML; an assistant `reasoning_content` is rendered as
  `<think>\n...\n</think>\n\n` before the content (content containing <think> is kept
  verbatim); assistant output sits in `{% generation %}` (incl. <|im_end|>) for TRL's
  assistant_only_loss; `add_generation_prompt` opens `<|im_start|>assistant\n`, plus
  `<think>` when enable_thinking=true (or `<think>\n\n</think>\n\n` when false).
- Model: Qwen2ForCausalLM, hidden 64, 2 layers, 2 heads (head_dim 32), tied
  embeddings, float32, random weights from a fixed seed.
The same seed gives the same files (byte-identical weights and tokenizer).

``--family`` swaps in a chat template (and the family's special tokens) that
behaves like that family's real ``tokenizer_config.json`` template on plain
system/user/assistant turns: QwQ-32B, DeepSeek-R1 / R1-Distill, Qwen3 and
Llama-3.1. The continuation-template tests render through them with
transformers' real ``apply_chat_template``. Only the default ``chatml``
family gets the greedy script and the verification below.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = ".reflectlab-tiny-model.json"
BUILD_VERSION = 2  # bump when the recipe changes so model_server.sh rebuilds

# Qwen2's pre-tokenizer regex (from Qwen2 tokenizer.json).
QWEN2_SPLIT_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
THINK_TOKENS = ["<think>", "</think>"]

CHAT_TEMPLATE = r"""{#- Tiny ChatML template with <think> reasoning, for reflectlab tests. -#}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- elif message.content is iterable and message.content is not mapping %}
        {%- set ns = namespace(text='') %}
        {%- for part in message.content %}
            {%- if part.type == 'text' %}{%- set ns.text = ns.text + part.text %}{%- endif %}
        {%- endfor %}
        {%- set content = ns.text %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if message.role == 'assistant' %}
        {{- '<|im_start|>assistant\n' }}
        {%- generation %}
        {%- if message.reasoning_content is string %}
            {{- '<think>\n' + message.reasoning_content.strip('\n') + '\n</think>\n\n' }}
        {%- endif %}
        {{- content }}
        {%- if not (continue_final_message and loop.last) %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
        {%- endgeneration %}
    {%- else %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is true %}
        {{- '<think>' }}
    {%- elif enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}
"""


# Written from the families' own templates (the non-tool paths), so that
# transformers renders what the real tokenizer would.
QWQ_TEMPLATE = r"""
{%- if messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set content = message.content.split('</think>')[-1].lstrip('\n') %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n<think>\n' }}
{%- endif %}
"""

QWEN3_TEMPLATE = r"""
{%- if messages[0].role == 'system' %}
    {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}
"""

DEEPSEEK_R1_TEMPLATE = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(system_prompt='') %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}"
    "{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}"
    "{{ bos_token }}{{ ns.system_prompt }}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}{%- endif %}"  # noqa: RUF001
    "{%- if message['role'] == 'assistant' %}{% set content = message['content'] %}"
    "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{ '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' }}{%- endif %}"  # noqa: RUF001
    "{%- endfor %}"
    "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}"  # noqa: RUF001
)

LLAMA3_TEMPLATE = r"""{{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"""

# family -> (template, extra special tokens, bos, eos)
FAMILIES = {
    "chatml": (None, [], None, "<|im_end|>"),
    "qwq": (QWQ_TEMPLATE, [], None, "<|im_end|>"),
    "qwen3": (QWEN3_TEMPLATE, [], None, "<|im_end|>"),
    "deepseek_r1": (
        DEEPSEEK_R1_TEMPLATE,
        ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"],  # noqa: RUF001
        "<｜begin▁of▁sentence｜>",  # noqa: RUF001
        "<｜end▁of▁sentence｜>",  # noqa: RUF001
    ),
    "llama3": (
        LLAMA3_TEMPLATE,
        ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
        "<|begin_of_text|>",
        "<|eot_id|>",
    ),
}


def build_family_tokenizer(
    out: Path, family: str, seed: int, vocab_size: int, corpus_size: int = 300
) -> None:
    """Only the tokenizer, with the family's template and tokens (no weights); a
    small corpus, since only the template matters."""
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    template, extra, bos, eos = FAMILIES[family]
    raw = build_tokenizer(seed, vocab_size, corpus_size)
    if extra:
        raw.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in extra])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token=eos,
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=bos,
        model_max_length=4096,
        chat_template=template or CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
    )
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    tok.save_pretrained(out)


def corpus(seed: int, n: int = 6000) -> list[str]:
    """Generated math-ish reasoning text (no external data)."""
    rng = random.Random(seed)
    names = ["x", "y", "n", "k", "a", "b", "m", "p", "q", "r", "t"]
    verbs = [
        "Let",
        "Suppose",
        "Then",
        "So",
        "Hence",
        "Therefore",
        "Now",
        "Note that",
        "Recall that",
        "Thus",
    ]
    hedges = [
        "Wait, that is not right.",
        "Wait, let me re-check.",
        "Hmm, let me verify.",
        "Actually,",
        "Let me double-check this step.",
        "Alternatively,",
        "But wait,",
        "On second thought,",
        "I made an error above.",
        "That looks correct.",
        "Let's try another approach.",
    ]
    ops = ["+", "-", "\\cdot", "\\times", "/", "=", "\\le", "\\ge", "<", ">", "^2"]
    words = [
        "the",
        "sum",
        "of",
        "all",
        "integers",
        "such",
        "that",
        "is",
        "equal",
        "to",
        "we",
        "get",
        "divide",
        "both",
        "sides",
        "by",
        "multiply",
        "answer",
        "final",
        "compute",
        "check",
        "prime",
        "factor",
        "remainder",
        "modulo",
        "triangle",
        "area",
        "angle",
        "probability",
        "equation",
        "solution",
        "root",
        "square",
        "cube",
        "function",
        "value",
        "step",
        "first",
        "second",
        "third",
        "because",
        "therefore",
        "since",
        "number",
        "digits",
        "even",
        "odd",
        "positive",
        "negative",
        "rational",
        "real",
        "complex",
        "we",
        "need",
        "to",
        "find",
        "how",
        "many",
        "ways",
        "can",
        "be",
        "chosen",
        "from",
        "a",
        "set",
        "of",
        "question",
        "problem",
    ]
    # A made-up Zipf-ish lexicon so BPE has enough distinct words to reach ~4k merges.
    syl = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")] + [
        "th",
        "qu",
        "x",
        "ng",
    ]
    lexicon = sorted(
        {"".join(rng.choice(syl) for _ in range(rng.randint(1, 4))) for _ in range(6000)}
    )
    rng.shuffle(lexicon)
    weights = [1.0 / (i + 1) for i in range(len(lexicon))]
    latex = [
        "\\frac",
        "\\sqrt",
        "\\sum_{i=1}^{n}",
        "\\binom",
        "\\pmod",
        "\\lfloor",
        "\\rfloor",
        "\\cdots",
        "\\left(",
        "\\right)",
        "\\text{and}",
        "\\quad",
        "\\implies",
        "\\equiv",
        "\\angle",
        "\\triangle",
    ]
    unicode_bits = [
        "≤",
        "≥",
        "≠",
        "→",
        "√",
        "π",
        "∑",
        "×",  # noqa: RUF001
        "°",
        "é",
        "½",
        "—",
        "“quoted”",
        "數學",
        "число",
    ]
    out: list[str] = []
    for _ in range(n):
        v = rng.choice(names)
        a, b = rng.randint(0, 999), rng.randint(1, 99)
        parts = [
            f"{rng.choice(verbs)} ${v} {rng.choice(ops)} {a}$ and ${rng.choice(names)} = \\frac{{{a}}}{{{b}}}$.",
            " ".join(rng.choice(words) for _ in range(rng.randint(4, 14))) + ".",
            rng.choice(hedges),
            f"So {v} = {a * b} and the answer is $\\boxed{{{rng.randint(0, 2000)}}}$.",
            f"Step {rng.randint(1, 12)}: {a} {rng.choice(['+', '-', '*'])} {b} = {a + b}. {rng.choice(unicode_bits)}",
            f"<think>\n{rng.choice(hedges)} {' '.join(rng.choice(words) for _ in range(6))}\n</think>\n\n"
            f"The answer is \\boxed{{{a}}}.",
            f"<|im_start|>user\nWhat is {a} + {b}?<|im_end|>\n<|im_start|>assistant\n<think>\n"
            f"{a} + {b} = {a + b}. Wait, check: {a + b} - {b} = {a}.\n</think>\n\n$\\boxed{{{a + b}}}$<|im_end|>\n",
            "```python\ndef f(n):\n    return n * (n + 1) // 2\n```",
            f"{rng.choice(words).capitalize()}'s value isn't {a}; we'll use {b}'s instead.\n\n",
        ]
        parts.append(
            " ".join(rng.choices(lexicon, weights, k=rng.randint(8, 40))).capitalize() + "."
        )
        parts.append(
            " ".join(rng.choices(lexicon + latex, k=rng.randint(5, 20)))
            + rng.choice([".", ",", "?", ":", ";"])
        )
        rng.shuffle(parts)
        out.append("\n".join(parts[: rng.randint(2, len(parts))]))
    return out


def build_tokenizer(seed: int, vocab_size: int, corpus_size: int = 6000):
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.post_processor = processors.ByteLevel(
        add_prefix_space=False, trim_offsets=False, use_regex=False
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(SPECIAL_TOKENS) - len(THINK_TOKENS),
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(corpus(seed, corpus_size), trainer=trainer)
    # Added tokens after the BPE vocab, as in Qwen2 (ids >= base vocab size).
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in THINK_TOKENS])
    return tok


# Greedy "script" written into the weights (see install_script): after the chat
# generation prompt ("<|im_start|>assistant\n") the model says exactly this, then stops.
SCRIPT = "\n<think>Wait, let me check this step</think>The answer is \\boxed{4}<|im_end|>"
SCRIPT_ENTRY = "Wait"  # every token outside the script leans towards this one


def install_script(
    model, tok, seed: int, alpha: float = 12.0, beta: float = 7.0, noise: float = 0.05
) -> list[str]:
    """Turn the random model into a noisy bigram machine that follows SCRIPT.

    Attention and MLP outputs are zeroed (o_proj, down_proj), so logits depend only on
    the last token: logits = lm_head . rmsnorm(embed[x]).  Embeddings are [1, 2r]
    (r a random unit vector; script tokens get orthonormal ones, and all
    others are orthogonal to those); lm_head is small noise
    plus, for each script pair a->b, alpha * r_a in row b, plus beta on dimension 0 in
    the row of SCRIPT_ENTRY.  So greedy decoding from the chat prompt yields SCRIPT;
    from any other token it jumps to SCRIPT_ENTRY and finishes the script
    ("Wait, let me check this step</think>The answer is \\boxed{4}<|im_end|>"), which
    is what a continuation inside <think> should look like.  Sampling at temperature 1
    adds a few random tokens (alpha=12, beta=7 vs ~4k noise logits; ~60% of samples are the exact script) before joining the script.
    """
    import torch

    ids = tok(SCRIPT, add_special_tokens=False)["input_ids"]
    if len(set(ids[:-1])) != len(ids) - 1:
        raise SystemExit(
            f"script tokens must be unique for a bigram script: {tok.convert_ids_to_tokens(ids)}"
        )
    entry = tok.convert_tokens_to_ids(SCRIPT_ENTRY)
    if entry not in ids:
        raise SystemExit(f"{SCRIPT_ENTRY!r} is not a single token of the script")
    V, d = model.get_input_embeddings().weight.shape
    g = torch.Generator().manual_seed(seed + 1)
    r = torch.randn(V, d - 1, generator=g)
    r = r / r.norm(dim=1, keepdim=True)
    src = torch.tensor(ids[:-1])
    q, _ = torch.linalg.qr(torch.randn(d - 1, len(src), generator=g))  # orthonormal columns
    r = r - (r @ q) @ q.T  # other tokens: orthogonal to the script's vectors -> no crosstalk
    r = r / r.norm(dim=1, keepdim=True)
    r[src] = q.T
    emb = torch.cat([torch.ones(V, 1), 2.0 * r], dim=1) * 0.05
    # rmsnorm(emb[x]) = sqrt(d) * emb[x] / |emb[x]| = [8/sqrt5, 16/sqrt5 * r]
    h0, h1 = d**0.5 / 5**0.5, 2 * d**0.5 / 5**0.5
    w = torch.randn(V, d, generator=g) * noise
    w[entry, 0] += beta / h0
    for a, b in itertools.pairwise(ids):
        w[b, 1:] += (alpha / h1) * r[a]
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.get_input_embeddings().weight.copy_(emb)
        model.get_output_embeddings().weight.copy_(w)
    return tok.convert_ids_to_tokens(ids)


def build(out: Path, seed: int, vocab_size: int, script: bool = True) -> dict:
    import torch
    from transformers import (
        GenerationConfig,
        PreTrainedTokenizerFast,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    raw = build_tokenizer(seed, vocab_size)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        model_max_length=4096,
        chat_template=CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
    )
    n_vocab = len(hf_tok)

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=n_vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=4096,
        rope_theta=10000.0,
        tie_word_embeddings=not script,
        bos_token_id=hf_tok.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=hf_tok.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=hf_tok.pad_token_id,
        use_cache=True,
        dtype="float32",
    )
    model = Qwen2ForCausalLM(config).to(torch.float32).eval()
    if script:
        install_script(model, hf_tok, seed)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=[config.eos_token_id, hf_tok.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=config.pad_token_id,
        do_sample=False,
        max_new_tokens=64,
    )

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    hf_tok.save_pretrained(tmp)
    info = {
        "build_version": BUILD_VERSION,
        "seed": seed,
        "script": SCRIPT if script else None,
        "vocab_size": n_vocab,
        "params": sum(p.numel() for p in model.parameters()),
        "special_ids": {t: hf_tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS + THINK_TOKENS},
    }
    (tmp / MARKER).write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return info


def verify(out: Path, script: bool = True) -> None:
    """Reload with Auto* classes and check tokenization and the chat template."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    auto = AutoTokenizer.from_pretrained(out)
    raw = Tokenizer.from_file(str(out / "tokenizer.json"))
    samples = [
        "Let x = 3. Wait, that's wrong: \\boxed{42} ≤ π — café\n\n  two  spaces",
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\nhmm\n</think>\n\nok<|im_end|>",
        "e\u0301 (NFD) vs \u00e9 (NFC), 數學 число 12345 ½",
    ]
    for s in samples:
        a, r = auto(s, add_special_tokens=True)["input_ids"], raw.encode(s).ids
        if a != r:
            raise SystemExit(
                f"AutoTokenizer ({type(auto).__name__}) differs from the trained tokenizer on {s!r}:\n{a}\n{r}"
            )
        if auto.decode(a) != raw.decode(r, skip_special_tokens=False):
            raise SystemExit(f"decode mismatch on {s!r}")
    assert auto.convert_tokens_to_ids("<think>") != auto.unk_token_id
    assert "<think>" in auto.decode(auto("<think>x</think>")["input_ids"], skip_special_tokens=True)

    msgs = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "reasoning_content": "2+2=4. Wait, yes.", "content": "\\boxed{4}"},
    ]
    text = auto.apply_chat_template(msgs, tokenize=False)
    assert (
        "<|im_start|>assistant\n<think>\n2+2=4. Wait, yes.\n</think>\n\n\\boxed{4}<|im_end|>\n"
        in text
    ), text
    gp = auto.apply_chat_template(msgs[:2], tokenize=False, add_generation_prompt=True)
    assert gp.endswith("<|im_start|>assistant\n"), gp
    gp = auto.apply_chat_template(
        msgs[:2], tokenize=False, add_generation_prompt=True, enable_thinking=True
    )
    assert gp.endswith("<|im_start|>assistant\n<think>"), gp
    partial = [*msgs[:2], {"role": "assistant", "content": "<think>\n2+2 is"}]
    cont = auto.apply_chat_template(partial, tokenize=False, continue_final_message=True)
    assert cont.endswith("<|im_start|>assistant\n<think>\n2+2 is"), cont
    enc = auto.apply_chat_template(
        msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    masked = [t for t, m in zip(enc["input_ids"], enc["assistant_masks"], strict=False) if m]
    assert auto.decode(masked).startswith("<think>") and auto.decode(masked).endswith(
        "<|im_end|>\n"
    ), auto.decode(masked)

    model = AutoModelForCausalLM.from_pretrained(out)
    ids = auto.apply_chat_template(
        msgs[:2], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        gen = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert gen.shape[1] > ids["input_ids"].shape[1]
    if script:
        with torch.no_grad():
            gen = model.generate(**ids, max_new_tokens=40, do_sample=False)
        text = auto.decode(gen[0, ids["input_ids"].shape[1] :])
        assert text == SCRIPT[1:], text
        raw_prompt = (
            auto.apply_chat_template(partial, tokenize=False, continue_final_message=True) + " so"
        )
        pids = auto(raw_prompt, return_tensors="pt")
        with torch.no_grad():
            gen = model.generate(**pids, max_new_tokens=40, do_sample=False)
        text = auto.decode(gen[0, pids["input_ids"].shape[1] :])
        assert text == SCRIPT[SCRIPT.index(SCRIPT_ENTRY) :], text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "out",
        nargs="?",
        default="var/tiny-model",
        help="output dir (default var/tiny-model, relative to the repo root)",
    )
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument(
        "--force", action="store_true", help="rebuild even if OUT already holds this build"
    )
    ap.add_argument(
        "--no-script",
        action="store_true",
        help="pure random weights (tied embeddings); greedy output is then noise, often whitespace",
    )
    ap.add_argument(
        "--no-verify", action="store_true", help="skip the reload/consistency checks (~1 s)"
    )
    ap.add_argument("--family", choices=sorted(FAMILIES), default="chatml")
    ap.add_argument(
        "--tokenizer-only", action="store_true", help="write only the tokenizer + chat template"
    )
    args = ap.parse_args(argv)
    out = Path(args.out)
    if not out.is_absolute():
        out = ROOT / out
    if args.tokenizer_only or args.family != "chatml":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        build_family_tokenizer(out, args.family, args.seed, args.vocab_size)
        print(out)
        return 0
    marker = out / MARKER
    if not args.force and marker.is_file():
        try:
            info = json.loads(marker.read_text())
        except ValueError:
            info = {}
        if (
            info.get("build_version") == BUILD_VERSION
            and info.get("seed") == args.seed
            and bool(info.get("script")) != args.no_script
            and (out / "model.safetensors").is_file()
        ):
            print(f"[build_tiny_model] up to date: {out}", file=sys.stderr)
            print(out)
            return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    t0 = time.monotonic()
    info = build(out, args.seed, args.vocab_size, script=not args.no_script)
    t1 = time.monotonic()
    if not args.no_verify:
        verify(out, script=not args.no_script)
    t2 = time.monotonic()
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(
        f"[build_tiny_model] built {out}: vocab {info['vocab_size']}, {info['params']} params, "
        f"{size / 1e6:.2f} MB on disk, build {t1 - t0:.1f}s, verify {t2 - t1:.1f}s",
        file=sys.stderr,
    )
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
