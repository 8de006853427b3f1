from __future__ import annotations

from django import forms


class IdsField(forms.Field):
    """Every value of a repeated parameter (``ids=3&ids=8``, one per checked row)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        return list(value or [])


class BulkForm(forms.Form):
    """A bulk request from the list's selection bar (``traces.selection`` checks it)."""

    ids = IdsField(required=False)
    # Checked: every trace the list's filters match, not the ticked rows.
    scope = forms.ChoiceField(
        choices=[("ids", "the ticked rows"), ("filter", "all matching")], required=False
    )
    # The list's query string: its filters (for scope=filter) and where to go back to.
    query = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)
