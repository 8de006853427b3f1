"""Database ids in input: bounded, so an absurd number is a 400, never a database error."""

from __future__ import annotations

from rest_framework import serializers

# The largest value of a 64-bit signed integer column (SQLite INTEGER, PostgreSQL bigint).
ID_MAX = 2**63 - 1


def bounded_id(value: object, name: str) -> int:
    """An id from untrusted input (a JSON filter, a form), or ValueError naming the field."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an id (a whole number from 1 to {ID_MAX}).")
    try:
        number = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be an id (a whole number from 1 to {ID_MAX}).") from None
    if isinstance(value, float) and value != number:
        raise ValueError(f"{name} must be an id (a whole number from 1 to {ID_MAX}).")
    if not 1 <= number <= ID_MAX:
        raise ValueError(f"{name} must be an id (a whole number from 1 to {ID_MAX}).")
    return number


class IdField(serializers.IntegerField):
    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(**kwargs)


class ProjectFilterSerializer(serializers.Serializer):
    project = IdField(required=False)
