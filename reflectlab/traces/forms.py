from __future__ import annotations

from django import forms


class ListPageForm(forms.Form):
    """The web list's page number; filters are ``traces.filters.TraceFilterSet``."""

    # Pages past the paginator's bound show its last page (BoundedPaginator).
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
