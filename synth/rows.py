"""Reading import files into rows: CSV (any dialect, very large fields), JSON and JSONL, streamed so memory stays flat
as files grow; column mapping (presets, --map, guesses); and the record, source and reject helpers that every
importer (documents in `importer.py`, pools in `pool_import.py`, `pool_long.py`, `pool_trec.py`) shares.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .errors import InputError
from .presets import FIELDS, TEXT_GUESSES, Preset, split_items
from .records import normalize_text, stable_id
from .store import Version
from .textfile import RAW_KEEP, CsvLines, file_encoding, open_text

DEFAULT_MAX_CHARS = 200_000
_SURROGATE = re.compile(r"[\udc80-\udcff]")


@dataclass
class ImportReport:
    kind: str
    file: str
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)
    versions: list[Version] = field(default_factory=list)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


def _sniff(sample: str, path: Path) -> type[csv.Dialect]:
    """Delimiter and quote character from the sample; quotes are always doubled-escaped (RFC 4180), because the
    sniffer often mistakes multi-line quoted fields for backslash escaping."""
    if path.suffix.lower() == ".tsv":
        return csv.excel_tab
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel

    class Sniffed(csv.excel):
        delimiter = sniffed.delimiter
        quotechar = sniffed.quotechar or '"'
    header = next(csv.reader(io.StringIO(sample), Sniffed), [])
    return Sniffed if len(header) > 1 else csv.excel


def read_rows(path: Path, encoding: str | None = None, on_bytes=None,
              field_limit: int = 1 << 24) -> tuple[list[str], Iterator]:
    """(columns, iterator of (line, row dict or None, error or None)) for a CSV, TSV, JSON or JSONL file.
    `encoding`: see `file_encoding` (None: UTF-8, or what a byte-order mark says). A CSV field over `field_limit`
    characters makes its row a reject, read past without being held."""
    if not path.exists():
        raise InputError(f"Cannot read {path}: no such file.{_data_hint(path)}")
    if path.is_dir():
        raise InputError(f"Cannot read {path}: it is a directory.")
    encoding = file_encoding(path, encoding)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl_rows(path, encoding, on_bytes)
    if suffix == ".json":
        return _json_rows(path, encoding)
    with open_text(path, encoding, None) as probe:
        sample = probe.read(1 << 16)
    fh = open_text(path, encoding, on_bytes)
    dialect = _sniff(sample, path)
    lines = CsvLines(fh, dialect.quotechar)
    reader = csv.reader(lines, dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"Cannot read {path}: the file is empty.") from None
    except csv.Error as e:
        raise InputError(f"Cannot read {path}: not a CSV file ({e}).") from None
    header = [h.strip() for h in header]

    def rows():
        with fh:
            while True:
                start = lines.n + 1
                lines.new_row()
                csv.field_size_limit(field_limit)  # the csv module's own setting, for this reader's next row
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as e:
                    if "field limit" not in str(e):
                        yield start, None, f"unparseable CSV row ({e})"
                        continue
                    chars, digest = lines.skip_row()
                    yield start, {"(row as in the file, shortened)": lines.head}, (f"a field over {field_limit} characters (the row has {chars} characters, "
                                        f"sha256 {digest}); raise --max-chars to keep it")
                    continue
                if not any(v.strip() for v in values):
                    continue  # blank line: not a row
                yield start, {h: (values[i] if i < len(values) else None) for i, h in enumerate(header)}, None
    return header, rows()


def _jsonl_rows(path: Path, encoding: str, on_bytes):
    head: list[str] = []
    with open_text(path, encoding, None) as probe:
        for n, line in enumerate(probe):
            if n >= 100:
                break
            try:
                obj = json.loads(line)
                if isinstance(obj, dict):
                    head.extend(k for k in obj if k not in head)
            except ValueError:
                pass
    if not head:
        with open_text(path, encoding, None) as probe:
            blank = not any(line.strip() for line in probe)
    if not head and blank:
        raise InputError(f"Cannot read {path}: the file is empty.")
    fh = open_text(path, encoding, on_bytes)

    def rows():
        with fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError as e:
                    yield n, None, f"unparseable JSON line ({e})"
                    continue
                yield (n, obj, None) if isinstance(obj, dict) else (n, None, "JSON line is not an object")
    return head, rows()


def _json_rows(path: Path, encoding: str):
    text = path.read_text(encoding=encoding)
    if not text.strip():
        raise InputError(f"Cannot read {path}: the file is empty.")
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"Cannot read {path}: not valid JSON ({e}).") from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise InputError(f"Cannot read {path}: expected a list of objects, or an object holding one list.")
        data = lists[0]
    if not isinstance(data, list):
        raise InputError(f"Cannot read {path}: expected a list of objects.")
    cols: list[str] = []
    for obj in data[:100]:
        if isinstance(obj, dict):
            cols.extend(k for k in obj if k not in cols)
    rows = ((i, o, None) if isinstance(o, dict) else (i, None, "item is not an object") for i, o in enumerate(data, 1))
    return cols, rows


def _data_hint(path: Path) -> str:
    """For a path under the real-data folder: where that folder is looked for."""
    from .paths import SAMPLES_DIR, data_dir

    if "shared/data" not in path.as_posix() and not str(path).startswith(str(data_dir())):
        return ""
    return (f" The real public data is read from $MIRA_DATA (now {data_dir()}; default ../shared/data beside the "
            f"checkout); set MIRA_DATA to where you keep it, or try the committed samples in {SAMPLES_DIR}.")


def parse_map(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        col, sep, fld = item.rpartition("=")
        if not sep or not col or not fld:
            raise InputError(f"--map '{item}' is not of the form column=field.")
        out[col] = fld.strip()
    return out


def resolve_mapping(kind: str, columns: list[str], preset: Preset | None, user_map: dict[str, str],
                    path: Path) -> dict[str, str]:
    mapping = dict(preset.mapping) if preset else {}
    if preset:
        mapping.update({c: f"meta.{c}" for c in preset.meta if c in columns})
    mapping.update(user_map)
    for col, fld in mapping.items():
        if fld not in FIELDS[kind] and not fld.startswith("meta."):
            raise InputError(f"--map {col}={fld}: unknown field '{fld}' for {kind} records "
                             f"(fields: {', '.join(FIELDS[kind])}, or meta.NAME).")
    for col in user_map:
        if col not in columns:
            raise InputError(f"--map: unknown column '{col}' in {path} (columns: {', '.join(columns) or 'none'}).")
    missing = [c for c in mapping if c not in columns and c not in user_map]
    if missing:
        raise InputError(f"{path} lacks column(s) {', '.join(missing)} that preset '{preset.name}' needs "
                         f"(columns: {', '.join(columns)}).")
    main = "jd" if kind == "pool" else "text"
    if main not in mapping.values() and not (preset and preset.derive):
        lower = {c.lower(): c for c in columns}
        guess = next((lower[g] for g in TEXT_GUESSES if g in lower), None)
        if guess is None:
            raise InputError(f"No {main} column found in {path}; name it with --map COLUMN={main} "
                             f"(columns: {', '.join(columns)}).")
        mapping[guess] = main
    return mapping


def row_fields(row: dict, mapping: dict[str, str], preset: Preset | None) -> tuple[dict, str | None]:
    """Mapped fields of one row, or an error reason."""
    out: dict = {"meta": {}}
    for col, fld in mapping.items():
        val = row.get(col)
        if val is None:
            return out, f"missing column '{col}'"
        if isinstance(val, str) and _SURROGATE.search(val):
            return out, (f"undecodable bytes in column '{col}' (not valid text in the file's encoding: pass the "
                         "file's real encoding, e.g. --encoding latin-1)")
        if fld.startswith("meta."):
            out["meta"][fld[5:]] = val
        else:
            out[fld] = val
    if preset and preset.derive:
        derived = preset.derive(row)
        if "_reject" in derived:
            return out, derived["_reject"]
        out.update({k: v for k, v in derived.items() if v is not None or k not in out})
    return out, None


def clean(v) -> str | None:
    if v is None:
        return None
    v = normalize_text(v if isinstance(v, str) else str(v))
    return v or None


def items(v) -> list[str]:
    if isinstance(v, list):
        return [s for s in (clean(x) for x in v) if s]
    return [s for s in (clean(x) for x in split_items(v if isinstance(v, str) else None)) if s]


def raw_row(row: dict | None) -> dict | None:
    """The row as read, with undecodable bytes shown as \\xNN so the reject stays valid UTF-8 JSON; a value over
    RAW_KEEP characters keeps its start, its size and its sha256 (the file holds the rest)."""
    if row is None:
        return None

    def fix(v):
        if not isinstance(v, str):
            return v
        if len(v) > RAW_KEEP:
            data = v.encode("utf-8", "surrogateescape")
            return {"start": fix(v[:RAW_KEEP]), "chars": len(v), "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest()}
        if _SURROGATE.search(v):
            return v.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return v
    return {k: fix(v) for k, v in row.items()}


def source_of(path: Path, line: int, f: dict, preset: Preset | None) -> dict:
    sid = f.get("source_id")
    return {"file": path.name, "line": line, "source_id": None if sid is None else str(sid),
            "preset": preset.name if preset else None}


def doc_record(kind: str, text: str, f: dict, source: dict) -> dict:
    rec = {"id": stable_id(kind, text), "kind": kind, "text": text, "title": clean(f.get("title")),
           "category": clean(f.get("category")), "source": source,
           "meta": {k: v for k, v in f.get("meta", {}).items() if v not in (None, "")}}
    if kind == "jd":
        rec.update(company=clean(f.get("company")), location=clean(f.get("location")),
                   responsibilities=clean(f.get("responsibilities")),
                   must=items(f.get("must")), preferred=items(f.get("preferred")))
    return rec


def text_problem(text: str | None, max_chars: int, what: str = "text") -> str | None:
    if not text:
        return f"empty {what}"
    if len(text) > max_chars:
        return f"{what} over {max_chars} characters ({len(text)}); raise --max-chars to keep it"
    return None


def report_counts(report: ImportReport) -> dict:
    return {"in": report.rows, "kept": report.imported, "rejected": dict(report.rejected),
            "duplicates": report.duplicates}


