from __future__ import annotations

import re

from django import forms

from reflectlab.projects.models import Project
from reflectlab.providers.models import ModelConfig
from reflectlab.runs.models import Run
from reflectlab.runs.services import MAX_SAMPLES


class RunCreateForm(forms.Form):
    """Which prompts (all, a text filter or a selection of ids), how many samples, which model."""

    CHOICES = [
        ("all", "All prompts"),
        ("filter", "Prompts whose text or id contains…"),
        ("selection", "A selection of prompt ids"),
    ]

    model_config = forms.ModelChoiceField(queryset=ModelConfig.objects.none(), label="Model")
    prompts = forms.ChoiceField(choices=CHOICES, initial="all", widget=forms.RadioSelect)
    q = forms.CharField(required=False, max_length=200, label="Filter text")
    selection = forms.CharField(
        required=False,
        label="Prompt ids",
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "gsm8k-1\ngsm8k-2"}),
        help_text="External ids (as imported), one per line or separated by commas.",
    )
    samples_per_prompt = forms.IntegerField(min_value=1, max_value=MAX_SAMPLES, initial=1)
    mode = forms.ChoiceField(
        choices=Run.Mode.choices,
        initial=Run.Mode.LIVE,
        required=False,
        widget=forms.RadioSelect,
        help_text="Batch: download the requests as OpenAI Batch JSONL, import the results file.",
    )

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["model_config"].queryset = project.model_configs.order_by("name")

    def clean(self):
        data = super().clean()
        choice = data.get("prompts")
        data["prompt_ids"] = None
        data["mode"] = data.get("mode") or Run.Mode.LIVE
        if choice != "filter":
            data["q"] = ""
        elif not data.get("q"):
            self.add_error("q", "Write the text to filter on.")
        if choice == "selection":
            ids = [s for s in re.split(r"[\s,]+", data.get("selection") or "") if s]
            if not ids:
                self.add_error("selection", "List at least one prompt id.")
            else:
                found = dict(
                    self.project.prompts.filter(external_id__in=ids).values_list(
                        "external_id", "pk"
                    )
                )
                missing = [i for i in ids if i not in found]
                if missing:
                    shown = ", ".join(missing[:10])
                    self.add_error("selection", f"Unknown prompt ids: {shown}")
                data["prompt_ids"] = list(found.values())
        return data
