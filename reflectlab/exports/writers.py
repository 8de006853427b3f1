"""Streaming, deterministic file writers: JSONL, Parquet, and the zip bundle.

Rows go to disk as they come (Parquet one row group per batch), so memory
stays flat whatever the row count. Nothing written depends on the clock:
zip entries carry a fixed timestamp and Parquet has no wall-clock metadata,
so the same rows give the same bytes.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
PARQUET_BATCH_ROWS = 1000
CHUNK = 1 << 20
WRITE_BUFFER = 1 << 20


class JsonlSink:
    """One ``orjson`` line per row into a 1 MiB buffer, hashed as it is written.

    Hashing on the way out gives the file's sha256 without reading the file
    back (the manifest and the Export row both need it). Each line is hashed
    while it is still in the CPU cache: gathering lines into bigger chunks
    first, or hashing and writing them in a thread of their own, both
    measured slower (the thread fights the reader thread for the GIL).
    """

    def __init__(self, path: Path):
        self.path = path
        self.rows = 0
        self._fh = path.open("wb", buffering=WRITE_BUFFER)
        self._digest = hashlib.sha256()

    def write(self, row: dict[str, Any]) -> None:
        line = orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)
        self._digest.update(line)
        self._fh.write(line)
        self.rows += 1

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def close(self) -> None:
        self._fh.close()

    abort = close


class ParquetSink:
    """``pq.ParquetWriter`` fed one row group per batch, with an explicit schema."""

    sha256 = None  # pyarrow writes the file; ``sha256_file`` reads it back

    def abort(self) -> None:
        self._writer.close()

    def __init__(self, path: Path, schema: pa.Schema, batch_rows: int = PARQUET_BATCH_ROWS):
        self.path = path
        self.schema = schema
        self.rows = 0
        self._batch: list[dict[str, Any]] = []
        self._batch_rows = batch_rows
        self._writer = pq.ParquetWriter(
            path, schema, compression="zstd", write_statistics=True, store_schema=True
        )

    def write(self, row: dict[str, Any]) -> None:
        self._batch.append(row)
        self.rows += 1
        if len(self._batch) >= self._batch_rows:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            table = pa.Table.from_pylist(self._batch, schema=self.schema)
            self._writer.write_table(table, row_group_size=len(self._batch))
            self._batch = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_zip(dest: Path, entries: list[tuple[str, Path]]) -> None:
    """A zip whose bytes depend only on the entries (fixed times and modes)."""
    with zipfile.ZipFile(dest, "w", allowZip64=True) as zf:
        for arcname, path in entries:
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            with path.open("rb") as src, zf.open(info, "w", force_zip64=True) as out:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
