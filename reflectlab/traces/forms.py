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


class TracePageForm(forms.Form):
    """The trace page's query: ``?folds=open`` draws every fold with its steps
    (what a closed fold links to when scripts are off)."""

    folds = forms.ChoiceField(
        choices=[("", "closed on long traces"), ("open", "open")], required=False
    )

    @classmethod
    def folds_open(cls, query) -> bool:
        form = cls(query)
        return form.is_valid() and form.cleaned_data["folds"] == "open"


class StepRangeForm(forms.Form):
    """Steps ``[start, stop)`` of a trace for a fold opened on demand.

    ``prefix`` is the element-id prefix of the panel that asked (``""`` for the
    trace itself, ``b<id>-`` for it drawn as a branch); ``split`` asks for the
    ✂ split marks the page shows when its annotation is editable.
    """

    start = forms.IntegerField(min_value=0)
    stop = forms.IntegerField(min_value=1)
    prefix = forms.RegexField(regex=r"^(b\d{1,19}-)?$", required=False, max_length=24)
    split = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if "start" in data and "stop" in data and data["stop"] <= data["start"]:
            raise forms.ValidationError("stop must be greater than start.")
        return data
