from __future__ import annotations

from django import forms

from reflectlab.core.ids import ID_MAX
from reflectlab.exports.chat_templates import PRESETS, tokenizer_names
from reflectlab.exports.kinds import VARIANTS
from reflectlab.exports.models import Export
from reflectlab.exports.schemas import BRANCH_FILTERS, HINT_MODES, REASONING_STYLES


class ExportForm(forms.Form):
    kind = forms.ChoiceField(choices=Export.Kind.choices, initial=Export.Kind.ALL)
    format = forms.ChoiceField(choices=Export.Format.choices, initial=Export.Format.BUNDLE)
    variant = forms.ChoiceField(
        required=False,
        choices=[("", "Primary")]
        + [(v, v) for variants in VARIANTS.values() for v in variants[1:]],
        help_text="For one-file formats: which table of the kind (the bundle holds all).",
    )
    hint_mode = forms.ChoiceField(
        choices=[(m, m.replace("_", " ")) for m in HINT_MODES],
        help_text="How the hint appears in corrected trajectories.",
    )
    reasoning = forms.ChoiceField(
        choices=[
            (REASONING_STYLES[0], "<think>…</think> in the content"),
            (REASONING_STYLES[1], "reasoning_content key"),
        ]
    )
    branch_filter = forms.ChoiceField(
        choices=[
            (BRANCH_FILTERS[0], "only branches graded correct"),
            (BRANCH_FILTERS[1], "any finished branch"),
        ]
    )
    judge_labels = forms.BooleanField(
        required=False,
        label="Judge labels",
        help_text="Add the newest judge suggestion per trace as separate meta_judge_* columns.",
    )
    training_template = forms.ChoiceField(
        required=False,
        choices=[("", "not named")] + [(p, p) for p in PRESETS],
        help_text="The chat template you will train with: reflectlab checks it keeps the reasoning.",
    )
    tokenizer = forms.ChoiceField(
        required=False,
        choices=[],
        help_text="A tokenizer from REFLECTLAB_TOKENIZERS_DIR: token length stats and its chat template checked.",
    )
    train_ratio = forms.FloatField(
        min_value=0, max_value=1, initial=0.9, help_text="The rest is test."
    )
    accepted_only = forms.BooleanField(required=False, initial=True)
    exclude_gold = forms.BooleanField(required=False, initial=True)
    model = forms.CharField(required=False, max_length=300)
    run = forms.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    annotator = forms.CharField(required=False, max_length=150, help_text="Username.")
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tokenizer"].choices = [("", "none")] + [(n, n) for n in tokenizer_names()]

    def payload(self) -> dict:
        d = self.cleaned_data
        ratio = d["train_ratio"]
        # round: 1 - 0.9 is 0.09999999999999998 in binary floating point
        splits = {"train": ratio, "test": round(1 - ratio, 10)} if ratio < 1 else {"train": 1.0}
        options = {
            "hint_mode": d["hint_mode"],
            "reasoning": d["reasoning"],
            "branch_filter": d["branch_filter"],
            "splits": splits,
            "training_template": d.get("training_template") or "",
            "tokenizer": d.get("tokenizer") or "",
        }
        if d.get("judge_labels"):
            options["judge_labels"] = True
        if d.get("variant") and d["format"] != Export.Format.BUNDLE:
            options["variant"] = d["variant"]
        filters = {
            "accepted_only": d["accepted_only"],
            "exclude_gold": d["exclude_gold"],
            "model": d.get("model"),
            "run": d.get("run"),
            "annotator": d.get("annotator"),
            "date_from": d["date_from"].isoformat() if d.get("date_from") else None,
            "date_to": d["date_to"].isoformat() if d.get("date_to") else None,
        }
        return {"kind": d["kind"], "format": d["format"], "filters": filters, "options": options}
