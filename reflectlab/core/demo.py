"""A small demo project written by reflectlab itself (no third-party data)."""

from __future__ import annotations

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "reflectlab-demo"  # noqa: S105 — the public demo login, printed by make run
DEMO_PROJECT = "Demo: arithmetic with reflection"

GUIDELINES = """Read the thinking step by step.

1. Label each step: +1 good, 0 okay but no progress, -1 bad.
2. Mark the first wrong step (or "no error").
3. At that step write a short hint (one or two sentences) and regenerate.
4. Write a critique with a verdict and tick the principles the trace violates.
"""

DEMO_TRACES = [
    {
        "id": "demo-apples",
        "question": "Sam has 3 boxes with 12 apples each. He gives away 7 apples. How many are left?",
        "reference_answer": "29",
        "model": "demo/handwritten",
        "response": (
            "Sam has 3 boxes and each holds 12 apples, so 3 * 12 = 36 apples.\n\n"
            "He gives away 7, so 36 - 7 = 29.\n\n"
            "Wait, let me double-check the multiplication: 12 + 12 + 12 = 36. Yes.\n\n"
            "So the answer is 29.\n</think>\n\nSam has **\\boxed{29}** apples left."
        ),
    },
    {
        "id": "demo-train",
        "question": "A train travels 150 km in 2.5 hours. What is its average speed in km/h?",
        "reference_answer": "60",
        "model": "demo/handwritten",
        "response": (
            "Average speed is distance over time: 150 / 2.5.\n\n"
            "150 / 2.5 = 50, so the speed is 50 km/h.\n\n"
            "Hmm, that seems low. Let me recheck: 2.5 * 50 = 125, not 150.\n\n"
            "Actually 150 / 2.5 = 60, since 2.5 * 60 = 150.\n\n"
            "Alternatively, 150 km in 2.5 h is 300 km in 5 h, which is 60 km/h.\n\n"
            "The answer is 60.\n</think>\n\nThe average speed is \\boxed{60} km/h."
        ),
    },
    {
        "id": "demo-discount",
        "question": "A $80 jacket is discounted by 25%, then by a further 10%. What is the final price in dollars?",
        "reference_answer": "54",
        "model": "demo/handwritten",
        "response": (
            "Two discounts: 25% and 10%. Together that is 35%.\n\n"
            "35% of $80 is $28, so the price is 80 - 28 = $52.\n\n"
            'But wait, maybe the discounts apply one after the other? The problem says "then".\n\n'
            "Hmm, I think adding them is fine. The answer is 52.\n</think>\n\n"
            "The final price is \\boxed{52} dollars."
        ),
    },
    {
        "id": "demo-fractions",
        "question": "Compute \\(\\frac{1}{2} + \\frac{1}{3}\\).",
        "reference_answer": "\\frac{5}{6}",
        "model": "demo/handwritten",
        "response": (
            "Common denominator 6:\n\n"
            "$$\\frac{1}{2} = \\frac{3}{6}, \\qquad \\frac{1}{3} = \\frac{2}{6}$$\n\n"
            "So the sum is \\(\\frac{5}{6}\\).\n\n"
            "Let me verify: 0.5 + 0.333... = 0.833..., and 5/6 = 0.833.... Correct.\n"
            "</think>\n\n\\(\\frac{1}{2} + \\frac{1}{3} = \\boxed{\\frac{5}{6}}\\)"
        ),
    },
]
