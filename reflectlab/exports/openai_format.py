"""OpenAI fine-tuning file shapes for the kinds that have one."""

from __future__ import annotations

OPENAI_KINDS = {"sft_corrected", "preference"}
# The configs an OpenAI file can be made from (user_turn SFT has only prompt/completion rows).
OPENAI_CONFIGS = {"sft_corrected", "sft_corrected_prompt_completion", "preference"}


def openai_row(config: str, row: dict) -> dict | None:
    """OpenAI fine-tuning shapes: SFT ``messages`` with ``weight``, DPO pairs."""

    def plain(m: dict) -> dict:
        return {"role": m["role"], "content": m["content"]}

    if config in ("sft_corrected", "sft_corrected_prompt_completion"):
        msgs = row.get("messages") or [*row["prompt"], *row["completion"]]
        # Only the corrected (last) assistant turn is trained: weight 0 on an original answer.
        last = max(i for i, m in enumerate(msgs) if m["role"] == "assistant")
        return {
            "messages": [
                {**plain(m), "weight": int(i == last)} if m["role"] == "assistant" else plain(m)
                for i, m in enumerate(msgs)
            ]
        }
    if config == "preference":
        return {
            "input": {"messages": [plain(m) for m in row["prompt"]]},
            "preferred_output": [plain(m) for m in row["chosen"]],
            "non_preferred_output": [plain(m) for m in row["rejected"]],
        }
    return None
