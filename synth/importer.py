"""`mira data import`: CSV (any dialect, very large fields), JSON and JSONL into `jd`, `cv` or `pool` versions.

Rows are streamed (memory stays flat as files grow). Every bad row goes to the version's rejects with file:line and
reason; exact duplicate texts are dropped and counted; ids are hashes of the normalised text. Reading and mapping
rows is `rows.py`; pools (one row per JD with its candidates) are `pool_import.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .errors import InputError
from .pool_import import import_pool
from .presets import FIELDS, PRESETS
from .rows import (DEFAULT_MAX_CHARS, ImportReport, clean, doc_record, raw_row, read_rows, report_counts,
                   resolve_mapping, row_fields, source_of, text_problem)
from .store import DatasetStore
from .textfile import file_encoding, not_decodable

__all__ = ["DEFAULT_MAX_CHARS", "ImportReport", "import_file"]


def import_file(store: DatasetStore, kind: str, path: str | Path, name: str, preset: str | None = None,
                mapping: dict[str, str] | None = None, max_chars: int = DEFAULT_MAX_CHARS,
                encoding: str | None = None, on_bytes: Callable[[int], None] | None = None) -> ImportReport:
    """Import one file into a new (or the identical existing) version of dataset `name`."""
    path = Path(path)
    if kind not in FIELDS:
        raise InputError(f"Unknown import kind '{kind}': use jd, cv or pool.")
    p = None
    if preset:
        if preset not in PRESETS:
            raise InputError(f"Unknown preset '{preset}' (presets: {', '.join(PRESETS)}).")
        p = PRESETS[preset]
        if p.kind != kind:
            raise InputError(f"Preset '{preset}' imports {p.kind} records, not {kind}: "
                             f"use `mira data import {p.kind} ...`.")
    encoding = file_encoding(path, encoding) if path.is_file() else encoding
    columns, rows = read_rows(path, encoding, on_bytes, field_limit=max(4 * max_chars, 1 << 16))
    mapping = resolve_mapping(kind, columns, p, mapping or {}, path)
    report = ImportReport(kind, str(path))
    manifest = {"sources": [{"file": str(path), "bytes": path.stat().st_size}], "preset": preset,
                "mapping": mapping, "params": {"max_chars": max_chars,
                                                              "encoding": encoding.replace("utf-8-sig", "utf-8")}}
    fn = import_pool if kind == "pool" else _import_docs
    fn(store, kind, path, name, rows, mapping, p, max_chars, report, manifest)
    return report



def _import_docs(store, kind, path, name, rows, mapping, preset, max_chars, report, manifest):
    with store.writer(name, kind, manifest) as w:
        seen: dict[str, int] = {}
        for line, row, err in rows:
            report.rows += 1
            where = f"{path.name}:{line}"
            f, err = (None, err) if err else row_fields(row, mapping, preset)
            if not err and isinstance(f.get("text"), str) and len(f["text"]) > 2 * max_chars:
                # far over the limit: refused before normalising (which would copy it twice)
                err = f"text over {max_chars} characters ({len(f['text'])} as read); raise --max-chars to keep it"
            text = None if err else clean(f.get("text"))
            err = err or text_problem(text, max_chars)
            if err:
                report.rejected[err.split(" (")[0]] += 1
                w.reject(err, stage="import", where=where, raw=raw_row(row))
                continue
            rec = doc_record(kind, text, f, source_of(path, line, f, preset))
            if rec["id"] in seen:
                report.duplicates += 1
                w.reject("duplicate", stage="dedup", where=where, duplicate_of=rec["id"], first_line=seen[rec["id"]])
                continue
            seen[rec["id"]] = line
            w.add(rec, where)
            report.imported += 1
        bad = sum(n for why, n in report.rejected.items() if why.startswith("undecodable bytes"))
        if bad and not report.imported and not report.duplicates:  # a file in another encoding: say which
            raise InputError(not_decodable(path, manifest["params"]["encoding"], bad, report.rows))
        w.manifest["stages"] = {"import": report_counts(report)}
        report.versions.append(w.commit())
