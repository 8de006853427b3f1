"""Judge prompt templates: the built-in one per kind, and rendering.

Placeholders are ``{{name}}`` (not ``str.format``: math prompts are full of
braces, ``\\boxed{}`` among them). A template must use ``{{problem}}`` and
``{{steps}}``; ``{{reference}}`` (the reference answer, may be empty) and
``{{n_steps}}`` are optional. Steps are tagged and indexed from 0 exactly as in
ProcessBench (Zheng et al., 2024, arXiv 2412.06559), whose critic prompt is the
``critic`` template below — so a judge's index is a step index of the trace.
"""

from __future__ import annotations

import re

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
KNOWN = {"problem", "steps", "reference", "n_steps"}
REQUIRED = {"problem", "steps"}
MAX_TEMPLATE_CHARS = 20_000

_HEAD = (
    "The following is a math problem and a solution (split into paragraphs, "
    "enclosed with tags and indexed from 0):\n\n[Math Problem]\n\n{{problem}}\n\n"
    "[Solution]\n\n{{steps}}\n\n"
)

DEFAULTS: dict[str, str] = {
    # ProcessBench's critic template, verbatim apart from the placeholders.
    "critic": _HEAD
    + "Your task is to review and critique the solution paragraph by paragraph. Once you "
    "identify an error in a paragraph, return the index of the paragraph where the earliest "
    'error occurs. Otherwise, return the index of -1 (which typically denotes "not found").'
    "\n\nPlease put your final answer (i.e., the index) in \\boxed{}.",
    # PRM800K's three labels.
    "step_labels": _HEAD
    + "Label every paragraph: +1 if it is correct and makes progress, 0 if it is correct "
    "but makes no progress, -1 if it contains an error. Answer with a JSON object "
    '{"labels": [...]} holding exactly {{n_steps}} labels, one per paragraph, in order.',
    "critique": _HEAD
    + "Write a short critique of the solution: what is right, and the first flaw if there "
    'is one. End with a line "Verdict: correct" or "Verdict: incorrect", and put the '
    "index of the earliest wrong paragraph (or -1) in \\boxed{}.",
    # CALM: a concise hint at the flaw, in the model's own voice.
    "hint": _HEAD
    + "Find the earliest wrong paragraph and write a one- or two-sentence hint that would "
    "let the author notice and fix the flaw without giving away the answer. Answer with a "
    'JSON object {"step": <index, or -1 if there is no error>, "hint": "<the hint>"}.',
}


class TemplateError(ValueError):
    pass


def template_check(template: str) -> None:
    """Raise TemplateError when a template cannot be rendered for every trace."""
    if not template.strip():
        raise TemplateError("Write a prompt template.")
    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"Keep the template under {MAX_TEMPLATE_CHARS} characters.")
    names = set(PLACEHOLDER.findall(template))
    unknown = names - KNOWN
    if unknown:
        raise TemplateError(
            f"Unknown placeholders: {', '.join(sorted(unknown))} "
            f"(use {', '.join('{{' + n + '}}' for n in sorted(KNOWN))})."
        )
    missing = REQUIRED - names
    if missing:
        raise TemplateError(
            f"The template must use {', '.join('{{' + n + '}}' for n in sorted(missing))}."
        )


def tagged_steps(steps: list[str]) -> str:
    return "\n\n".join(f"<paragraph_{i}>\n{s}\n</paragraph_{i}>" for i, s in enumerate(steps))


def render(template: str, *, problem: str, steps: list[str], reference: str = "") -> str:
    values = {
        "problem": problem,
        "steps": tagged_steps(steps),
        "reference": reference,
        "n_steps": str(len(steps)),
    }
    # One pass, so a placeholder inside the problem or a step is left as text.
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
