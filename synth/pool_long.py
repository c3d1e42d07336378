"""Long pool files: one row per JD–CV pair (`jd, cv, label`), grouped by the JD's text or by an id column, into
`<name>-jd`, `<name>-cv` and the `pool` version `<name>`.

Labels are grades: integers 0, 1, 2, ... or the words negative (0), positive (1), hard_negative (0, and listed as a
hard negative); an empty label leaves the candidate unlabelled, which counts as a negative (the paper's protocol).
Each JD's candidates keep the file's row order, which is the upstream retriever's ranking (`upstream` in `mira eval`).
A repeated JD row adds a candidate to its JD's pool; only a repeated (JD, CV) pair is a duplicate. Bad rows go to the
pool's rejects with file:line and reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .importer import import_file
from .pool_import import commit_pool, pool_writers
from .rows import ImportReport, clean, doc_record, raw_row, read_rows, row_fields, source_of, text_problem
from .records import stable_id

# column names tried, in order, for each field when --map does not name one
GUESSES = {"jd": ("jd", "jd_text", "job_description", "job", "query"),
           "cv": ("cv", "cv_text", "resume", "resume_text", "candidate", "document"),
           "label": ("label", "relevance", "grade", "judgment")}
WORDS = {"negative": (0, False), "positive": (1, False), "hard_negative": (0, True), "relevant": (1, False),
         "not_relevant": (0, False), "irrelevant": (0, False)}
LONG_FIELDS = ("jd", "jd_id", "jd_title", "cv", "cv_id", "label")


def parse_label(value) -> tuple[int | None, bool, str | None]:
    """(grade or None when unlabelled, is a hard negative, error)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, False, None
    if isinstance(value, bool):
        return int(value), False, None
    s = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    if s in WORDS:
        return (*WORDS[s], None)
    if re.fullmatch(r"\d+(\.0*)?", s):
        return int(float(s)), False, None
    return None, False, (f"bad label '{str(value)[:40]}' (use a grade 0, 1, 2, ... or negative / positive / "
                         f"hard_negative; leave it empty for unlabelled)")


def long_mapping(columns: list[str], user_map: dict[str, str], path: Path) -> dict[str, str] | None:
    """The column -> field map of a long file, or None when the file is not long (no CV and label columns)."""
    fields = set(user_map.values())
    if not fields & {"cv", "label", "cv_id"}:
        lower = {c.lower(): c for c in columns}
        if not all(any(g in lower for g in GUESSES[f]) for f in ("cv", "label")) or fields & {"positive"}:
            return None
    for col, fld in user_map.items():
        if col not in columns:
            raise InputError(f"--map: unknown column '{col}' in {path} (columns: {', '.join(columns) or 'none'}).")
        if fld not in LONG_FIELDS and not fld.startswith("meta."):
            raise InputError(f"--map {col}={fld}: a long pool file (one row per JD–CV pair) takes the fields "
                             f"{', '.join(LONG_FIELDS)} or meta.NAME.")
    mapping = dict(user_map)
    lower = {c.lower(): c for c in columns if c not in mapping}
    for fld in ("jd", "cv", "label"):
        if fld not in mapping.values():
            col = next((lower[g] for g in GUESSES[fld] if g in lower), None)
            if col is None:
                raise InputError(f"No {fld} column found in {path}; name it with --map COLUMN={fld} "
                                 f"(columns: {', '.join(columns)}).")
            mapping[col] = fld
    return mapping


@dataclass
class _Group:
    key: str
    line: int
    text: str | None
    fields: dict
    order: list[str] = field(default_factory=list)
    grades: dict[str, int] = field(default_factory=dict)
    hard: list[str] = field(default_factory=list)
    lines: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # cv id -> (line, grade)


def import_pool_file(store, path: str | Path, name: str, preset: str | None = None,
                     mapping: dict[str, str] | None = None, max_chars: int = 200_000, encoding: str = "utf-8",
                     on_bytes=None) -> ImportReport:
    """A pool file of either shape: long (one row per JD–CV pair) here, wide (one row per JD, e.g. RJDB) by
    synth.importer."""
    path = Path(path)
    if not preset:
        columns, rows = read_rows(path, encoding, on_bytes)
        lm = long_mapping(columns, mapping or {}, path)
        if lm is not None:
            return import_long(store, path, name, rows, lm, max_chars, encoding)
    return import_file(store, "pool", path, name, preset=preset, mapping=mapping, max_chars=max_chars,
                       encoding=encoding, on_bytes=on_bytes)


def import_long(store, path: Path, name: str, rows, mapping: dict[str, str], max_chars: int,
                encoding: str) -> ImportReport:
    report = ImportReport("pool", str(path))
    by_id = "jd_id" in mapping.values()
    manifest = {"sources": [{"file": str(path), "bytes": path.stat().st_size}], "preset": None, "mapping": mapping,
                "format": "long", "params": {"max_chars": max_chars, "encoding": encoding,
                                             "grouped_by": "jd_id" if by_id else "jd text"}}
    jd_w, cv_w, pool_w = pool_writers(store, name, manifest)
    with jd_w, cv_w, pool_w:
        groups: dict[str, _Group] = {}
        cv_ids: set[str] = set()

        def reject(err, line, row, **extra):
            report.rejected[err.split(" (")[0].split(" '")[0]] += 1
            pool_w.reject(err, stage="import", where=f"{path.name}:{line}", raw=raw_row(row), **extra)

        for line, row, err in rows:
            report.rows += 1
            f, err = (None, err) if err else row_fields(row, mapping, None)
            if err:
                reject(err, line, row)
                continue
            jd_text, cv_text = clean(f.get("jd")), clean(f.get("cv"))
            key = clean(f.get("jd_id")) if by_id else (jd_text and stable_id("jd", jd_text))
            g = groups.get(key) if key else None
            grade, hard, err = parse_label(f.get("label"))
            if by_id and not key:
                err = "empty JD id"
            elif g is None or jd_text is not None:
                err = err or text_problem(jd_text, max_chars, "JD text")
            if not err and g is not None and jd_text is not None and jd_text != g.text:
                err = f"JD id '{key}' has a different text on line {g.line}"
            err = err or text_problem(cv_text, max_chars, "CV text")
            if err:
                reject(err, line, row)
                continue
            if g is None:
                g = groups[key] = _Group(key, line, jd_text, f)
            cid = stable_id("cv", cv_text)
            if cid in g.lines:
                first, old = g.lines[cid]
                if old == grade:
                    report.duplicates += 1
                    pool_w.reject("duplicate JD–CV pair", stage="dedup", where=f"{path.name}:{line}", first_line=first)
                else:
                    reject(f"conflicting label for one JD–CV pair ('{f.get('label')}' here, {old} on line {first})",
                           line, row)
                continue
            g.lines[cid] = (line, grade)
            g.order.append(cid)
            if grade is not None:
                g.grades[cid] = grade
            if hard:
                g.hard.append(cid)
            if cid not in cv_ids:
                cv_ids.add(cid)
                src = source_of(path, line, {"source_id": f.get("cv_id")}, None)
                cv_w.add(doc_record("cv", cv_text, {}, src), f"{path.name}:{line}")
            report.imported += 1
        jd_seen: dict[str, int] = {}
        for g in groups.values():
            jd_id = stable_id("jd", g.text)
            if jd_id in jd_seen:  # two ids, one text: the later group is a duplicate JD
                report.duplicates += len(g.order)
                report.imported -= len(g.order)
                pool_w.reject("duplicate JD (same text under another id)", stage="dedup",
                              where=f"{path.name}:{g.line}", duplicate_of=jd_id, first_line=jd_seen[jd_id])
                continue
            jd_seen[jd_id] = g.line
            src = source_of(path, g.line, {"source_id": g.key if by_id else None}, None)
            jd_w.add(doc_record("jd", g.text, {"title": g.fields.get("jd_title"), "meta": g.fields.get("meta", {})},
                                 src), f"{path.name}:{g.line}")
            pool_w.add({"id": f"pool-{jd_id[3:]}", "kind": "pool", "jd_id": jd_id, "candidate_ids": g.order,
                        "positive_ids": [c for c in g.order if g.grades.get(c, 0) >= 1], "hard_negative_ids": g.hard,
                        "relevance": g.grades, "scope": "local", "source": src}, f"{path.name}:{g.line}")
        commit_pool(report, jd_w, cv_w, pool_w, pools=len(jd_seen))
    return report
