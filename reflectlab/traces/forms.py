from __future__ import annotations

from django import forms

from reflectlab.core.ids import ID_MAX
from reflectlab.traces.models import Trace

TRISTATE = [("", "Any"), ("true", "Yes"), ("false", "No")]


class TristateField(forms.TypedChoiceField):
    def __init__(self, **kwargs):
        super().__init__(
            choices=TRISTATE,
            coerce=lambda v: v == "true",
            empty_value=None,
            required=False,
            **kwargs,
        )


class TraceFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search prompts",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Search prompts"}),
    )
    model = forms.CharField(required=False, max_length=300)
    final_correct = TristateField(label="Correct")
    has_reflection = TristateField(label="Reflects")
    has_corrective = TristateField(label="Corrective")
    truncated = TristateField(label="Truncated")
    origin = forms.ChoiceField(choices=[("", "Any"), *Trace.Origin.choices], required=False)
    state = forms.ChoiceField(choices=[("", "Any"), *Trace.State.choices], required=False)
    prompt = forms.IntegerField(
        required=False, min_value=1, max_value=ID_MAX, widget=forms.HiddenInput
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
