"""The trace list's filters as a django-filter FilterSet, shared by the web list and the API."""

from __future__ import annotations

import django_filters
from django import forms

from reflectlab.core.ids import ID_MAX
from reflectlab.traces.models import Trace

TRISTATE = [("", "Any"), ("true", "Yes"), ("false", "No")]


class TristateFilter(django_filters.TypedChoiceFilter):
    """``true`` / ``false`` / empty (no filter); anything else is a 400, never ignored."""

    def __init__(self, **kwargs):
        super().__init__(choices=TRISTATE, coerce=lambda v: v == "true", empty_value=None, **kwargs)


class TraceFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        field_name="prompt__text",
        lookup_expr="icontains",
        max_length=200,
        label="Search prompts",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Search prompts"}),
    )
    model = django_filters.CharFilter(field_name="model_name", max_length=300)
    final_correct = TristateFilter(label="Correct")
    has_reflection = TristateFilter(label="Reflects")
    has_corrective = TristateFilter(label="Corrective")
    truncated = TristateFilter(label="Truncated")
    origin = django_filters.ChoiceFilter(choices=Trace.Origin.choices, empty_label="Any")
    state = django_filters.ChoiceFilter(choices=Trace.State.choices, empty_label="Any")
    prompt = django_filters.NumberFilter(
        field_name="prompt_id", min_value=1, max_value=ID_MAX, widget=forms.HiddenInput
    )

    class Meta:
        model = Trace
        fields: list[str] = []
