"""Where an export's rows go: one open file per (config, split), made on its first row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reflectlab.exports.llamafactory import SHAPES, llamafactory_path, llamafactory_row
from reflectlab.exports.models import Export
from reflectlab.exports.openai_format import openai_row
from reflectlab.exports.schemas import Config
from reflectlab.exports.writers import JsonlSink, ParquetSink


class Route:
    """The writer of one (config, split) and its row count; ``write`` None: not exported."""

    __slots__ = ("lengths", "rows", "write")

    def __init__(self, write: Any):
        self.write = write
        self.rows = 0
        self.lengths = None  # report.Lengths of the config, set by the builder


class Sinks:
    """Open files per (config, split), created on first row."""

    def __init__(self, work: Path, export: Export, configs: dict[str, Config]):
        self.work = work
        self.export = export
        self.configs = configs
        self.open: dict[tuple[str, str], list] = {}
        self.bundle = export.format == Export.Format.BUNDLE
        self.plain_config = export.options.get("variant")

    def paths(self, config: str, split: str) -> list[tuple[str, str]]:
        if self.bundle:
            paths = [
                ("parquet", f"data/{config}/{split}-00000-of-00001.parquet"),
                ("jsonl", f"jsonl/{config}/{split}.jsonl"),
            ]
            if config in SHAPES:
                paths.append(("llamafactory", llamafactory_path(config, split)))
            return paths
        return [(self.plain_kind, self.plain_name)]

    @property
    def plain_kind(self) -> str:
        return "parquet" if self.export.format == Export.Format.PARQUET else "jsonl"

    @property
    def plain_name(self) -> str:
        suffix = {"jsonl": "jsonl", "parquet": "parquet", "openai": "openai.jsonl"}
        return f"{self.plain_config}.{suffix[self.export.format]}"

    def _sinks(self, config: str, split: str) -> list:
        key = (config, split) if self.bundle else ("", "")
        if key not in self.open:
            sinks = []
            for fmt, rel in self.paths(config, split):
                path = self.work / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                sink = (
                    ParquetSink(path, self.configs[config].schema)
                    if fmt == "parquet"
                    else JsonlSink(path)
                )
                sinks.append((fmt, rel, sink))
            self.open[key] = sinks
        return self.open[key]

    def route(self, config: str, split: str) -> Route:
        """Where rows of (config, split) go; made once per pair, then reused for every row."""
        if not self.bundle and config != self.plain_config:
            return Route(None)
        sinks = self._sinks(config, split)
        if self.export.format == Export.Format.OPENAI:
            sink = sinks[0][2]
            return Route(lambda row, nested=None: sink.write(openai_row(config, row)))
        if len(sinks) == 1 and sinks[0][0] == "parquet":
            write = sinks[0][2].write
            return Route(lambda row, nested=None: write(row))
        if len(sinks) == 1:  # JSONL: canonical records go nested, not as a JSON string
            write = sinks[0][2].write
            return Route(lambda row, nested=None: write(row if nested is None else nested))

        def write_all(row: dict[str, Any], nested: Any = None) -> None:
            for fmt, _rel, sink in sinks:
                if fmt == "llamafactory":
                    sink.write(llamafactory_row(config, row))
                else:
                    sink.write(nested if fmt == "jsonl" and nested is not None else row)

        return Route(write_all)

    def abort(self) -> None:
        for sinks in self.open.values():
            for _fmt, _rel, sink in sinks:
                sink.abort()

    def close(self) -> dict[tuple[str, str], list]:
        if not self.bundle and not self.open:
            self._sinks(self.plain_config, "")  # an empty export is still a valid file
        for sinks in self.open.values():
            for _fmt, _rel, sink in sinks:
                sink.close()
        return self.open
