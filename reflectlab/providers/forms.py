from __future__ import annotations

import json

from django import forms

from reflectlab.providers.models import EDITABLE_FIELDS, ModelConfig, env_name_validator


class EnvNameInput(forms.TextInput):
    """Renders only a value that looks like a variable name: if someone pastes
    a key into the field, the error page must not print it back."""

    def format_value(self, value):
        value = super().format_value(value)
        if value is None:
            return None
        try:
            env_name_validator(value)
        except forms.ValidationError:
            return None
        return value


class ModelConfigForm(forms.ModelForm):
    extra_body = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"chat_template_kwargs": {}}'}),
        help_text="JSON merged into every request body (server-specific options).",
    )

    class Meta:
        model = ModelConfig
        fields = EDITABLE_FIELDS
        labels = {"base_url": "Base URL", "api_key_env": "API key variable"}
        help_texts = {
            "api_key_env": "Name of the environment variable on the workers that holds the key: "
            "REFLECTLAB_KEY_… or one the operator allows in REFLECTLAB_ALLOWED_KEY_ENVS.",
            "base_url": "A host the operator allows in REFLECTLAB_MODEL_HOSTS.",
        }
        widgets = {
            "api_key_env": EnvNameInput(attrs={"placeholder": "REFLECTLAB_KEY_OPENAI"}),
            "system_prompt": forms.Textarea(attrs={"rows": 3}),
            "base_url": forms.TextInput(attrs={"placeholder": "http://127.0.0.1:8000/v1"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["extra_body"] = json.dumps(self.instance.extra_body or {})

    def clean_extra_body(self):
        text = (self.cleaned_data.get("extra_body") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Write a JSON object.")
        return value
