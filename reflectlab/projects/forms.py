from __future__ import annotations

from django import forms

from reflectlab.projects.models import Project, Role


class LinesField(forms.CharField):
    """A list of strings edited as one item per line."""

    widget = forms.Textarea(attrs={"rows": 4})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        return [line.strip() for line in (value or "").splitlines() if line.strip()]


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ProjectSettingsForm(forms.ModelForm):
    principles = LinesField(required=False)
    error_categories = LinesField(required=False)

    class Meta:
        model = Project
        fields = ["name", "description", "guidelines", "principles", "error_categories", "overlap"]
        widgets = {"guidelines": forms.Textarea(attrs={"rows": 8})}

    def clean_overlap(self):
        overlap = self.cleaned_data["overlap"]
        if not 1 <= overlap <= 20:
            raise forms.ValidationError("Overlap must be between 1 and 20.")
        return overlap


class MemberForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        help_text="An existing user is added at once. A new username is created, and you get "
        "a one-time link for them to choose a password.",
    )
    email = forms.EmailField(
        required=False, help_text="Optional, for a new user: the link is emailed there too."
    )
    role = forms.ChoiceField(choices=Role.choices)
