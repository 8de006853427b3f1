from __future__ import annotations

import re

from django import forms

from reflectlab.judges.models import MAX_SAMPLES, AssistSettings, Judge, JudgeRun
from reflectlab.projects.models import Project
from reflectlab.providers.models import ModelConfig


class JudgeForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=Judge.Kind.choices, initial=Judge.Kind.CRITIC)
    model_config = forms.ModelChoiceField(queryset=ModelConfig.objects.none(), label="Model")
    samples_per_trace = forms.IntegerField(min_value=1, max_value=MAX_SAMPLES, initial=1)
    template = forms.CharField(
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 10, "class": "mono"}),
        help_text="Leave empty for the kind's built-in prompt. Placeholders: {{problem}}, "
        "{{steps}} (tagged, indexed from 0), {{reference}}, {{n_steps}}.",
    )

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model_config"].queryset = project.model_configs.order_by("name")


class PromptVersionForm(forms.Form):
    template = forms.CharField(
        max_length=20_000, widget=forms.Textarea(attrs={"rows": 14, "class": "mono"})
    )


class JudgeRunForm(forms.Form):
    CHOICES = [
        ("all", "All finished traces"),
        ("filter", "Traces of one model and/or correctness"),
        ("selection", "A selection of trace ids"),
    ]
    CORRECTNESS = [("", "Any"), ("wrong", "Wrong final answer"), ("right", "Right final answer")]

    traces = forms.ChoiceField(choices=CHOICES, initial="all", widget=forms.RadioSelect)
    model = forms.CharField(required=False, max_length=300, label="Model name")
    correctness = forms.ChoiceField(choices=CORRECTNESS, required=False)
    selection = forms.CharField(
        required=False,
        label="Trace ids",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "12\n15"}),
        help_text="Numbers, one per line or separated by commas.",
    )
    samples_per_trace = forms.IntegerField(min_value=1, max_value=MAX_SAMPLES, required=False)

    def clean(self):
        data = super().clean()
        data["trace_ids"], data["filters"] = None, {}
        if data.get("traces") == "filter":
            data["filters"] = {
                "model": data.get("model") or None,
                "final_correct": {"wrong": False, "right": True}.get(data.get("correctness")),
            }
        if data.get("traces") == "selection":
            parts = [p for p in re.split(r"[\s,]+", data.get("selection") or "") if p]
            if not parts or not all(p.isdigit() and len(p) < 19 for p in parts):
                self.add_error("selection", "List trace ids (numbers).")
            else:
                data["trace_ids"] = [int(p) for p in parts]
        return data


class AssistSettingsForm(forms.Form):
    suggestion_mode = forms.ChoiceField(choices=AssistSettings.Mode.choices)
    low_confidence = forms.FloatField(min_value=0, max_value=1)


class EvalFilterForm(forms.Form):
    judge = forms.ModelChoiceField(
        queryset=Judge.objects.none(), required=False, empty_label="All judges"
    )
    run = forms.ModelChoiceField(
        queryset=JudgeRun.objects.none(), required=False, empty_label="Newest per trace"
    )
    submitted = forms.BooleanField(required=False, label="Compare with submitted annotations too")

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["judge"].queryset = Judge.objects.filter(project=project).order_by("name")
        self.fields["run"].queryset = JudgeRun.objects.filter(project=project).order_by("-id")
