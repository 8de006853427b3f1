from __future__ import annotations

import json

from django import forms

from reflectlab.annotations.models import Annotation
from reflectlab.core.ids import ID_MAX
from reflectlab.review.models import Review
from reflectlab.review.policy import CORRECTNESS, ORDER_KEYS, TRUNCATED_CHOICES, QueuePolicy

ORDER_CHOICES = [("", "—"), *((k, v.label) for k, v in ORDER_KEYS.items())]
N_ORDER_FIELDS = 4


class PolicyForm(forms.Form):
    order_1 = forms.ChoiceField(label="First", choices=ORDER_CHOICES, required=False)
    order_2 = forms.ChoiceField(label="Then", choices=ORDER_CHOICES, required=False)
    order_3 = forms.ChoiceField(label="Then", choices=ORDER_CHOICES, required=False)
    order_4 = forms.ChoiceField(label="Then", choices=ORDER_CHOICES, required=False)
    models = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only traces of these models enter the queue (none ticked: all).",
    )
    runs = forms.CharField(
        required=False, help_text="Comma-separated run ids (blank: all).", max_length=500
    )
    correctness = forms.ChoiceField(choices=list(CORRECTNESS.items()))
    gold_rate = forms.FloatField(
        min_value=0, max_value=1, help_text="Share of claims that serve a gold item (0 to 1)."
    )
    review_disagreements_first = forms.BooleanField(
        required=False, label="Route disagreements to review first"
    )
    truncated_no_answer = forms.ChoiceField(
        choices=list(TRUNCATED_CHOICES.items()),
        label="Truncated without an answer",
        required=False,
        help_text="Where “Wrong final answer first” puts traces cut off before they answered.",
    )

    def __init__(self, *args, model_names: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["models"].choices = [(m, m) for m in model_names]

    @classmethod
    def initial_from(cls, policy: QueuePolicy) -> dict:
        initial = {f"order_{i + 1}": key for i, key in enumerate(policy.order)}
        return {
            **initial,
            "models": policy.models,
            "runs": ", ".join(str(r) for r in policy.runs),
            "correctness": policy.correctness,
            "gold_rate": policy.gold_rate,
            "review_disagreements_first": policy.review_disagreements_first,
            "truncated_no_answer": policy.truncated_no_answer,
        }

    def clean_runs(self) -> list[int]:
        raw = [part.strip() for part in self.cleaned_data["runs"].split(",") if part.strip()]
        if not all(part.isdigit() for part in raw):
            raise forms.ValidationError("Run ids are whole numbers, separated by commas.")
        runs = [int(part) for part in raw]
        if not all(1 <= run <= ID_MAX for run in runs):
            raise forms.ValidationError("A run id is out of range.")
        return runs

    def clean(self):
        data = super().clean()
        order = [data.get(f"order_{i + 1}") for i in range(N_ORDER_FIELDS)]
        order = [key for key in order if key]
        if len(set(order)) != len(order):
            raise forms.ValidationError("Each ordering key may be used once.")
        data["order"] = order
        return data

    def policy(self) -> dict:
        data = self.cleaned_data
        return {
            "order": data["order"],
            "models": data["models"],
            "runs": data["runs"],
            "correctness": data["correctness"],
            "gold_rate": data["gold_rate"],
            "review_disagreements_first": data["review_disagreements_first"],
            "truncated_no_answer": data["truncated_no_answer"] or "after_wrong",
        }


class PinForm(forms.Form):
    trace_id = forms.IntegerField(min_value=1, max_value=ID_MAX, label="Trace #")
    pinned = forms.TypedChoiceField(
        choices=[("1", "Pin"), ("0", "Unpin")], coerce=lambda v: v == "1", initial="1"
    )


class GoldForm(forms.Form):
    trace_id = forms.IntegerField(min_value=1, max_value=ID_MAX, label="Trace #")
    expected_first_error_step = forms.IntegerField(
        min_value=-1, required=False, label="First error step", help_text="-1: no error"
    )
    expected_verdict = forms.ChoiceField(
        choices=Annotation.Verdict.choices, required=False, label="Verdict"
    )
    note = forms.CharField(required=False, max_length=1000)


class ReviewForm(forms.Form):
    """Accept, reject, or edit with the annotator's own controls.

    The edit fields are the workspace's (project categories and principles as
    choices, step labels as JSON written by the keyboard); the values are then
    checked by the one annotation validator in ``review.decisions``.
    """

    decision = forms.ChoiceField(choices=Review.Decision.choices)
    version = forms.IntegerField(min_value=1, max_value=ID_MAX, widget=forms.HiddenInput)
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    then_next = forms.BooleanField(required=False)
    # Edits (decision = edit): the reviewer's values replace the annotator's.
    step_labels = forms.CharField(required=False, widget=forms.HiddenInput)
    first_error_step = forms.IntegerField(min_value=-1, required=False)
    verdict = forms.ChoiceField(choices=Annotation.Verdict.choices, required=False)
    error_category = forms.ChoiceField(required=False)
    critique = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    hint = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    violated_principles = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple
    )

    EDIT_FIELDS = (
        "step_labels",
        "first_error_step",
        "verdict",
        "error_category",
        "critique",
        "hint",
        "violated_principles",
    )

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        categories = list(project.error_categories or [])
        current = (self.initial or {}).get("error_category")
        if current and current not in categories:
            categories.append(current)  # an old value stays visible until changed
        self.fields["error_category"].choices = [("", "—")] + [(c, c) for c in categories]
        self.fields["violated_principles"].choices = [(p, p) for p in project.principles or []]

    def clean_step_labels(self) -> dict | None:
        raw = self.cleaned_data.get("step_labels")
        if not raw:
            return None  # not posted: the labels stay as they are
        try:
            labels = json.loads(raw)
        except ValueError:
            raise forms.ValidationError("Step labels must be JSON.") from None
        if not isinstance(labels, dict):
            raise forms.ValidationError("Step labels map step indexes to +1, 0 or -1.")
        return labels

    def edits(self) -> dict:
        edits = {name: self.cleaned_data[name] for name in self.EDIT_FIELDS}
        edits["verdict"] = edits["verdict"] or ""
        edits["error_category"] = edits["error_category"] or ""
        edits["violated_principles"] = list(edits["violated_principles"])
        if edits["step_labels"] is None:
            del edits["step_labels"]
        return edits
