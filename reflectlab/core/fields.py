"""Model fields that keep any Python string, NUL (``\\u0000``) included.

PostgreSQL ``text`` and ``jsonb`` cannot hold NUL, and model output may
contain it: one such response used to abort a run's whole batch write. These
fields store text with a small reversible escape and give back the original
string to every Python reader (instances, ``values()``, the API, exports):

    ESC   → ESC ESC
    NUL   → ESC "0"

``ESC`` is U+FFFF, a Unicode *noncharacter* ("never to be interchanged"), so
ordinary text never changes — only text that holds NUL or U+FFFF itself is
stored escaped. Code that reads these columns past Django's converters (raw
SQL, a psycopg cursor) must call :func:`unescape` on what it reads.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models

ESC = "\uffff"
_NUL = "\x00"


def escape(text: str) -> str:
    if _NUL not in text and ESC not in text:
        return text
    return text.replace(ESC, ESC + ESC).replace(_NUL, ESC + "0")


def unescape(text: str) -> str:
    if ESC not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = text.find(ESC, i)
        if j < 0 or j + 1 >= n:
            out.append(text[i:])  # a trailing lone ESC was not written by escape(); keep it
            break
        out.append(text[i:j])
        out.append(_NUL if text[j + 1] == "0" else text[j + 1])
        i = j + 2
    return "".join(out)


def _walk(value: Any, fn) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {_walk(k, fn): _walk(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, fn) for v in value]
    return value


class NulSafeTextField(models.TextField):
    """A TextField that stores NUL (PostgreSQL refuses it) losslessly."""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return escape(value) if isinstance(value, str) else value

    def from_db_value(self, value, expression, connection):
        return unescape(value) if isinstance(value, str) else value


class NulSafeJSONField(models.JSONField):
    """A JSONField whose strings (keys included) may hold NUL (jsonb refuses ``\\u0000``)."""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None:
            return value
        # Walking a large analysis in Python costs more than the write: look first,
        # in C (json.dumps writes NUL and U+FFFF as these escapes).
        try:
            text = json.dumps(value, cls=self.encoder)
        except (TypeError, ValueError):
            return value  # let Django report what it cannot encode
        if "\\u0000" in text or "\\uffff" in text:
            return _walk(value, escape)
        return value

    def from_db_value(self, value, expression, connection):
        decoded = super().from_db_value(value, expression, connection)
        # Fast path: the stored JSON text holds no escape (jsonb returns U+FFFF as is,
        # SQLite keeps json.dumps' "\uffff").
        if isinstance(value, str) and ESC not in value and "\\uffff" not in value.lower():
            return decoded
        return _walk(decoded, unescape)
