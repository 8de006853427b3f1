from __future__ import annotations

import json
import re

from django import forms

from reflectlab.annotations.models import Annotation
from reflectlab.core.ids import ID_MAX

ALTERNATIVE_SEPARATOR = re.compile(r"^\s*---\s*$", re.M)


class AnnotationSaveForm(forms.Form):
    """The workspace's annotation form: what autosave posts and submit posts.

    Choices come from the project (error categories, principles), so a post
    cannot store a category or principle the project does not have.
    """

    version = forms.IntegerField(min_value=1, max_value=ID_MAX)
    elapsed = forms.IntegerField(min_value=0, required=False)
    step_labels = forms.CharField(required=False)
    first_error_step = forms.IntegerField(min_value=-1, required=False)
    error_category = forms.ChoiceField(required=False)
    hint = forms.CharField(required=False, max_length=20_000, strip=False)
    hint_step = forms.IntegerField(min_value=0, required=False)
    critique = forms.CharField(required=False, max_length=50_000, strip=False)
    verdict = forms.ChoiceField(choices=Annotation.Verdict.choices, required=False)
    violated_principles = forms.MultipleChoiceField(required=False)
    step_reasons = forms.CharField(required=False)
    replacement_step = forms.CharField(required=False, max_length=20_000, strip=False)
    replacement_alternatives = forms.CharField(required=False, max_length=200_000, strip=False)
    flawed_process = forms.BooleanField(required=False)
    exit_reason = forms.ChoiceField(choices=Annotation.ExitReason.choices, required=False)
    reflection_quality = forms.CharField(required=False)

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["error_category"].choices = [("", "—")] + [
            (c, c) for c in project.error_categories or []
        ]
        self.fields["violated_principles"].choices = [(p, p) for p in project.principles or []]

    def clean_step_labels(self) -> dict[str, int]:
        raw = self.cleaned_data.get("step_labels") or "{}"
        try:
            labels = json.loads(raw)
        except ValueError:
            raise forms.ValidationError("Step labels must be JSON.") from None
        if not isinstance(labels, dict) or any(
            not isinstance(v, int) or isinstance(v, bool) for v in labels.values()
        ):
            raise forms.ValidationError("Step labels map step indexes to +1, 0 or -1.")
        return {str(k): v for k, v in labels.items()}

    def _json(self, name: str, kind: type) -> object:
        raw = self.cleaned_data.get(name) or ("{}" if kind is dict else "[]")
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(f"{name} must be JSON.") from None
        if not isinstance(value, kind):
            raise forms.ValidationError(f"{name} has the wrong shape.")
        return value

    def clean_step_reasons(self) -> object:
        return self._json("step_reasons", dict)

    def clean_reflection_quality(self) -> object:
        return self._json("reflection_quality", dict)

    def clean_replacement_alternatives(self) -> list[str]:
        # One alternative per block, blocks separated by a line holding only ---.
        raw = self.cleaned_data.get("replacement_alternatives") or ""
        blocks = [b.strip() for b in ALTERNATIVE_SEPARATOR.split(raw)]
        return [b for b in blocks if b]

    def changes(self) -> dict:
        data = self.cleaned_data
        return {
            "step_labels": data["step_labels"],
            "first_error_step": data["first_error_step"],
            "error_category": data["error_category"] or "",
            "hint": data["hint"] or "",
            "hint_step": data["hint_step"],
            "critique": data["critique"] or "",
            "verdict": data["verdict"] or "",
            "violated_principles": list(data["violated_principles"]),
            "step_reasons": data["step_reasons"],
            "replacement_step": data["replacement_step"] or "",
            "replacement_alternatives": data["replacement_alternatives"],
            "flawed_process": bool(data["flawed_process"]),
            "exit_reason": data["exit_reason"] or "",
            "reflection_quality": data["reflection_quality"],
        }


class RegenerateForm(forms.Form):
    version = forms.IntegerField(min_value=1, max_value=ID_MAX)
    hint_step = forms.IntegerField(min_value=0)
    hint = forms.CharField(max_length=20_000)


class StepEditForm(forms.Form):
    op = forms.ChoiceField(choices=[("split", "split"), ("merge", "merge")])
    offset = forms.IntegerField(min_value=1, max_value=ID_MAX)
