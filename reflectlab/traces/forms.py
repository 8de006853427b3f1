from __future__ import annotations

from django import forms

# Sort keys the web list may be ordered by (validated: nothing else reaches order_by).
SORTS = (
    "id",
    "n_steps",
    "n_reflection_steps",
    "reflection_share",
    "answer_reached_step",
    "outcome",
    "model_name",
)
SORT_CHOICES = [("", "Default")] + [
    (f"{sign}{key}", f"{key} {arrow}") for key in SORTS for sign, arrow in (("", "↑"), ("-", "↓"))
]


class ListPageForm(forms.Form):
    """The web list's page number; filters are ``traces.filters.TraceFilterSet``."""

    # Pages past the paginator's bound show its last page (BoundedPaginator).
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)
