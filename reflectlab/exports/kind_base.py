"""The interface every export kind implements (``kinds``, ``step_kinds``)."""

from __future__ import annotations

from collections.abc import Iterator

from reflectlab.exports.rows import ANNOTATION_FIELDS, BRANCH_FIELDS, STEP_FIELDS
from reflectlab.exports.schemas import Config, Context


class Kind:
    name: str
    source = "annotations"
    needs_steps = False
    needs_branch = False

    def configs(self, ctx: Context) -> list[Config]:
        raise NotImplementedError

    def rows(self, a: dict, ctx: Context, split: str) -> Iterator[tuple[str, dict]]:
        raise NotImplementedError

    extra_fields: tuple[str, ...] = ()

    def fields(self) -> list[str]:
        return (
            ANNOTATION_FIELDS
            + (STEP_FIELDS if self.needs_steps else [])
            + (BRANCH_FIELDS if self.needs_branch else [])
            + list(self.extra_fields)
        )
