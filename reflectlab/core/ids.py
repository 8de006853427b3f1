"""Database ids in input: bounded, so an absurd number is a 400, never a database error."""

from __future__ import annotations

from rest_framework import serializers

# The largest value of a 64-bit signed integer column (SQLite INTEGER, PostgreSQL bigint).
ID_MAX = 2**63 - 1


class IdField(serializers.IntegerField):
    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(**kwargs)


class ProjectFilterSerializer(serializers.Serializer):
    project = IdField(required=False)
