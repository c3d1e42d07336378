"""Export dataset versions as JSONL, Parquet, or a Hugging Face `datasets` folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .errors import InputError
from .store import Version

# Fields whose structure is fixed across records stay nested; any other dict is stored as a JSON string, because
# free-form dicts (meta, scores...) differ between records and Arrow needs one type per column.
NESTED_OK = {"source", "lineage"}


def _flatten(rec: dict) -> dict:
    return {k: (json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, dict) and k not in NESTED_OK
                else v) for k, v in rec.items()}


def arrow_table(v: Version):
    import pyarrow as pa

    return pa.Table.from_pylist([_flatten(r) for r in v.iter_records()])


def export_version(v: Version, fmt: str, out: Path) -> Path:
    out = Path(out)
    if out.exists():
        raise InputError(f"{out} already exists; choose another --out or remove it.")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        shutil.copyfile(v.records_path, out)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(arrow_table(v), out)
    elif fmt == "hf":
        from datasets import Dataset

        ds = Dataset(arrow_table(v))
        ds.info.description = f"Mira dataset {v.ref} ({v.kind})"
        ds.save_to_disk(str(out))
    else:
        raise InputError(f"Unknown export format '{fmt}': use jsonl, parquet or hf.")
    return out
