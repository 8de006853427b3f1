from __future__ import annotations

import orjson
import pyarrow.parquet as pq


def jsonl_rows(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


def export_rows(export):
    if export.format == "parquet":
        return pq.read_table(export.path).to_pylist()
    return jsonl_rows(export.path)
