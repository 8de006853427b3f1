from __future__ import annotations

from django import forms
from django.conf import settings

from reflectlab.prompts.models import ImportJob
from reflectlab.prompts.parsing import PROMPT_TARGETS, TRACE_TARGETS


class ImportForm(forms.Form):
    """An upload plus an optional field mapping (one ``target=source`` per line)."""

    file = forms.FileField()
    file_format = forms.ChoiceField(
        choices=[("auto", "From the file name"), ("jsonl", "JSONL"), ("csv", "CSV")],
        initial="auto",
    )
    mapping = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "prompt=question\nexternal_id=id"}),
        help_text="One target=source per line; empty uses the default field names.",
    )
    allow_partial = forms.BooleanField(
        required=False, help_text="Import the good lines even if some lines are bad."
    )

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.targets = TRACE_TARGETS if kind == ImportJob.Kind.TRACES else PROMPT_TARGETS

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.REFLECTLAB_MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than the upload limit.")
        return upload

    def clean_mapping(self):
        mapping = {}
        for number, line in enumerate(self.cleaned_data["mapping"].splitlines(), start=1):
            if not line.strip():
                continue
            target, sep, source = line.partition("=")
            target, source = target.strip(), source.strip()
            if not sep or not target or not source:
                raise forms.ValidationError(f"Line {number}: write target=source.")
            if target not in self.targets:
                raise forms.ValidationError(
                    f"Line {number}: unknown target {target!r}; use one of {', '.join(self.targets)}."
                )
            mapping[target] = source
        return mapping

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is not None and data.get("file_format") == "auto":
            name = (upload.name or "").lower()
            if name.endswith(".csv"):
                data["file_format"] = "csv"
            elif name.endswith((".jsonl", ".json", ".ndjson")):
                data["file_format"] = "jsonl"
            else:
                self.add_error("file_format", "Cannot tell the format from the name; choose one.")
        return data


class ListFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200)
    page = forms.IntegerField(required=False, min_value=1)
