from __future__ import annotations

from django import forms

from reflectlab.projects.models import Project
from reflectlab.runs.models import Run
from reflectlab.traces import selectors as trace_selectors


class DashboardFilterForm(forms.Form):
    """The GET filters every chart shares: run, model and a date range (inclusive)."""

    run = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    model = forms.ChoiceField(required=False)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        runs = Run.objects.filter(project=project).select_related("model_config").order_by("-id")
        self.fields["run"].choices = [("", "Any run")] + [
            (run.pk, f"#{run.pk} {run.model_config}") for run in runs
        ]
        self.fields["model"].choices = [("", "Any model")] + [
            (name, name) for name in trace_selectors.model_names(project=project)
        ]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("The start date is after the end date.")
        return data
