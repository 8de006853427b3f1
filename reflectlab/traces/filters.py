"""The trace list's filters as a django-filter FilterSet, shared by the web list and the API."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q

from reflectlab.core.ids import ID_MAX
from reflectlab.traces.models import Trace

TRISTATE = [("", "Any"), ("true", "Yes"), ("false", "No")]
SEARCH_IN = [("prompt", "prompts (named)"), ("response", "responses")]


class TristateFilter(django_filters.TypedChoiceFilter):
    """``true`` / ``false`` / empty (no filter); anything else is a 400, never ignored."""

    def __init__(self, **kwargs):
        super().__init__(choices=TRISTATE, coerce=lambda v: v == "true", empty_value=None, **kwargs)


class TraceFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        max_length=200,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Search"}),
    )
    search_in = django_filters.ChoiceFilter(
        choices=SEARCH_IN, method="no_op", empty_label="prompts", label="in"
    )
    outcome = django_filters.ChoiceFilter(
        choices=Trace.Outcome.choices, empty_label="Any", label="Outcome"
    )
    answer_reached = TristateFilter(
        field_name="answer_reached_step", method="reached", label="Answer reached"
    )
    run = django_filters.NumberFilter(
        field_name="run_id", min_value=1, max_value=ID_MAX, widget=forms.HiddenInput
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

    def search(self, queryset, name, value):
        """``q`` in the prompt text, or (``search_in=response``) in the response/reasoning."""
        if self.form.cleaned_data.get("search_in") == "response":
            return queryset.filter(Q(raw_response__icontains=value) | Q(reasoning__icontains=value))
        return queryset.filter(prompt__text__icontains=value)

    def no_op(self, queryset, name, value):
        return queryset  # read by ``search``

    def reached(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(answer_reached_step__isnull=not value)
