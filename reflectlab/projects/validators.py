"""Checks of a project's analysis lexicon overrides, shared by the API and the admin form."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from reflectlab import analysis


def version_room() -> int:
    """How many characters a project lexicon's ``version`` may have.

    The stored analyser version is ``"<analyser>+lex<default>.<project version>"``
    ("1+lex5.acme-2") and must fit ``Trace.analyzer_version``
    (``analysis.VERSION_MAX_LENGTH`` characters).
    """
    prefix = analysis.analyzer_version(analysis.project_lexicon({"version": ""}))
    return analysis.VERSION_MAX_LENGTH - len(prefix)


def validate_lexicon(value: Any) -> dict[str, Any]:
    """Overrides of the analysis lexicon, checked the way the analysis reads them.

    A stored bad lexicon would break every later import of the project, and a
    version too long for the analyser-version column would fail every save of
    an analysed trace (PostgreSQL refuses the value; SQLite would keep it).
    """
    if not isinstance(value, dict):
        raise ValidationError(
            'Must be an object of lexicon overrides, e.g. {"weak_start": ["but"]} ({} for none).'
        )
    for key, cues in value.items():
        if key != "version" and not (
            isinstance(cues, list) and all(isinstance(c, str) for c in cues)
        ):
            raise ValidationError(f"{key}: must be a list of strings.")
    if "version" in value:
        version = value["version"]
        if not isinstance(version, str) or not version.strip():
            raise ValidationError("version: must be a non-empty string.")
        room = version_room()
        if len(version) > room:
            raise ValidationError(
                f"version: at most {room} characters ({len(version)} given): analyses "
                f"store it as {analysis.analyzer_version(analysis.project_lexicon({'version': ''}))}"
                f"<version>, at most {analysis.VERSION_MAX_LENGTH} characters in all."
            )
    try:
        analysis.project_lexicon(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(str(exc)) from None
    return value
