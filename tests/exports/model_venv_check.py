"""Run inside the model virtualenv: load every export with ``datasets.load_dataset``.

    python model_venv_check.py CASES.json

CASES is a list of {path, config (folder only), schema (file of a serialized
Arrow schema)}. Prints one JSON line per case: columns and whether the
loaded Arrow schema equals the declared one.
"""

import json
import sys
from pathlib import Path

import datasets
import pyarrow as pa

datasets.disable_progress_bars()

for case in json.loads(Path(sys.argv[1]).read_text()):
    path = Path(case["path"])
    if path.is_dir():
        ds = datasets.load_dataset(str(path), name=case["config"], split="train")
    else:
        builder = "parquet" if path.suffix == ".parquet" else "json"
        ds = datasets.load_dataset(builder, data_files=str(path), split="train")
    declared = pa.ipc.read_schema(pa.py_buffer(Path(case["schema"]).read_bytes()))
    loaded = ds.data.table.schema
    same = loaded.remove_metadata().equals(declared.remove_metadata())
    typed = {
        name: str(loaded.field(name).type)
        for name in loaded.names
        if name in {"label", "labels", "completions", "steps", "messages", "chosen", "completion"}
    }
    print(
        json.dumps(
            {
                "path": str(path),
                "config": case.get("config"),
                "rows": len(ds),
                "columns": ds.column_names,
                "schema_equal": same,
                "types": typed,
            }
        )
    )
