from __future__ import annotations

from django import forms

from reflectlab.core.ids import ID_MAX


class TokenActionForm(forms.Form):
    """What the *Token* page posts: create, rotate (revoke all, create one), revoke
    one (``token``) or all."""

    action = forms.ChoiceField(
        choices=[("create", "create"), ("rotate", "rotate"), ("revoke", "revoke")]
    )
    token = forms.IntegerField(required=False, min_value=1, max_value=ID_MAX)
