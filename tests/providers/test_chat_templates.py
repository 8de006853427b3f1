"""The matrix "family x continuation mode → rendered prompt", proven against
transformers' real ``apply_chat_template`` on tiny tokenizers that carry each
family's chat template (``scripts/build_tiny_model.py --family``).

Mode (a) is what an OpenAI-compatible server renders for a continued final
message (``continue_final_message=True``); mode (b) is the raw prompt
reflectlab sends to ``/v1/completions``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from reflectlab.providers import chat_templates
from reflectlab.providers.chat_templates import TemplateError

ROOT = Path(settings.BASE_DIR)
VENV = Path(os.environ.get("REFLECTLAB_MODEL_VENV", ROOT / ".venv-model"))
PYTHON = VENV / "bin" / "python"

PREFIX = "<think>\nWe need 2 + 3.\n\nCareful: 2 + 3 is 5.\n\n"
USER = [{"role": "user", "content": "What is 2 + 3?"}]
SYSTEM = [{"role": "system", "content": "Be brief."}, *USER]

CHATML = (
    "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n<think>\n"
    "We need 2 + 3.\n\nCareful: 2 + 3 is 5.\n\n"
)
R1 = (
    "<｜begin▁of▁sentence｜><｜User｜>What is 2 + 3?<｜Assistant｜><think>\n"  # noqa: RUF001
    "We need 2 + 3.\n\nCareful: 2 + 3 is 5.\n\n"
)
LLAMA3 = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
    "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 3?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n<think>\nWe need 2 + 3.\n\n"
    "Careful: 2 + 3 is 5."  # the template trims the message: no trailing blank line
)
QWEN3_PREFILL = CHATML.replace(
    "assistant\n<think>\n", "assistant\n<think>\n\n</think>\n\n<think>\n"
)

# family -> (preset, mode a as the server renders it, mode b as reflectlab sends it)
MATRIX = {
    "chatml": ("chatml", CHATML, CHATML),  # the tiny test model
    "qwq": ("chatml", CHATML, CHATML),  # QwQ-32B
    "deepseek_r1": ("deepseek_r1", R1, R1),  # R1 and R1-Distill-Qwen/-Llama
    "qwen3": ("qwen3", QWEN3_PREFILL, CHATML),  # mode (a) closes the thinking first
    "llama3": ("llama3", LLAMA3, LLAMA3),  # Llama-3.1
}


@pytest.mark.parametrize("family", sorted(MATRIX))
def test_each_preset_renders_the_continuation_prompt_of_its_family(family):
    preset, _prefill, raw = MATRIX[family]
    assert chat_templates.render_preset(preset, USER, PREFIX) == raw


def test_the_default_template_stays_chatml():
    assert (
        chat_templates.render_continuation(template="", messages=USER, assistant_prefix=PREFIX)
        == CHATML
    )


def test_deepseek_puts_the_system_prompt_after_bos_and_never_uses_chatml():
    text = chat_templates.render_preset("deepseek_r1", SYSTEM, PREFIX)
    assert text.startswith("<｜begin▁of▁sentence｜>Be brief.<｜User｜>What is 2 + 3?")  # noqa: RUF001
    assert "<|im_start|>" not in text


def test_raw_prompts_leave_the_bos_to_the_servers_tokenizer():
    assert chat_templates.for_raw_completion(R1).startswith("<｜User｜>")  # noqa: RUF001
    assert chat_templates.for_raw_completion(LLAMA3).startswith("<|start_header_id|>system")
    assert chat_templates.for_raw_completion(CHATML) == CHATML


def test_an_unknown_preset_is_refused_by_name():
    with pytest.raises(TemplateError, match="Unknown chat template 'mistral'"):
        chat_templates.render_preset("mistral", USER, PREFIX)


def test_a_tokenizer_directory_without_transformers_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails like an absent package
    with pytest.raises(TemplateError, match="needs transformers"):
        chat_templates.render_continuation(
            template="tokenizer",
            messages=USER,
            assistant_prefix=PREFIX,
            tokenizer_dir=str(tmp_path),
        )


def test_prefill_problem_spots_a_closed_thinking_block_before_the_prefix():
    assert "closes the thinking block" in chat_templates.prefill_problem(QWEN3_PREFILL, PREFIX)
    assert chat_templates.prefill_problem(CHATML, PREFIX) == ""
    assert "does not keep" in chat_templates.prefill_problem("<|im_start|>assistant\n", PREFIX)


@pytest.mark.slow
def test_matrix_matches_transformers_rendering_of_each_familys_template(tmp_path):
    """The real rendering path: transformers renders each family's template."""
    if not PYTHON.exists():
        pytest.skip(f"no model virtualenv at {VENV} (scripts/model_env.sh builds it)")
    spec = tmp_path / "spec.json"
    cases = [{"messages": USER, "prefix": PREFIX}, {"messages": SYSTEM, "prefix": PREFIX}]
    spec.write_text(json.dumps({"out": str(tmp_path), "families": list(MATRIX), "cases": cases}))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [str(PYTHON), str(Path(__file__).with_name("render_matrix.py")), str(spec)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rendered = json.loads(result.stdout)
    for family, (preset, prefill, raw) in MATRIX.items():
        plain, with_system = rendered[family]
        assert plain["prefill"] == prefill, family  # mode (a), rendered by transformers
        assert plain["tokenizer"] == raw, family  # mode (b) from the tokenizer directory
        assert plain["preset"] == raw, family  # mode (b) from the preset
        # With a system prompt the preset still agrees with the real template.
        assert with_system["tokenizer"] == with_system["preset"], family
        assert chat_templates.render_preset(preset, SYSTEM, PREFIX) == with_system["tokenizer"]


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "deepseek_r1"),
        ("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "deepseek_r1"),
        ("deepseek-r1:7b", "deepseek_r1"),
        ("Qwen/QwQ-32B", "chatml"),
        ("Qwen/Qwen3-8B", "qwen3"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama3"),
        ("tiny-model", "chatml"),
    ],
)
def test_the_server_default_follows_the_family_the_model_name_says(name, family):
    assert chat_templates.effective_template("", name) == family
    assert chat_templates.effective_template("llama3", name) == "llama3"  # a choice wins
