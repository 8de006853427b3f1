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


class LenientPageField(forms.CharField):
    """A page number typed into the "go to page" box: anything that is not a whole
    number from 1 up reads as page 1; pages past the bound show the last page
    (``BoundedPaginator.get_page``). Never an error: a typo is not worth a 400."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(required=False, max_length=None, strip=True, **kwargs)

    def clean(self, value):
        text = str(super().clean(value) or "")
        if not (text.isascii() and text.isdigit()):
            return 1  # empty, garbage, negative
        # Any huge number is just past the last page (and never an overflow).
        return 10**18 if len(text) > 18 else max(1, int(text))


class ListPageForm(forms.Form):
    """The web list's page and sort; filters are ``traces.filters.TraceFilterSet``."""

    page = LenientPageField()
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)
