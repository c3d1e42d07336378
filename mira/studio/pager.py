"""Paging a version's records.jsonl without loading it: a newline offset index and cached filter results.

The first page of an unfiltered version reads only its first lines. Any other page seeks to the byte offsets of its
lines, found once per file by scanning it for newlines with numpy (a 100k-record version: well under a second, see
benchmarks/studio_bench.py). A filter scans the file once, testing the search words on the raw line before any JSON
is parsed, and keeps the matching line numbers. A record by id is found by a byte search for its canonical
`"id":"..."` key (records are written with sorted keys and no spaces), then parsed.
"""

from __future__ import annotations

import json
import mmap
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHUNK = 1 << 23
FLAGS = ("needs_review", "downgraded", "capped", "scores_limited", "rejected_by_code")


@dataclass(frozen=True)
class Filter:
    type: str = ""
    stage: str = ""
    label: str = ""
    flag: str = ""
    q: str = ""

    @property
    def empty(self) -> bool:
        return not (self.type or self.stage or self.label or self.flag or self.q)

    def matches(self, rec: dict) -> bool:
        if self.type and self.type not in (str(rec.get(k)) for k in ("type", "generator", "negative_type")):
            return False
        if self.stage and str((rec.get("lineage") or {}).get("stage")) != self.stage:
            return False
        if self.label and str(rec.get("label")) != self.label:
            return False
        if self.flag:
            return flag_of(rec, self.flag)
        return True


def flag_of(rec: dict, flag: str) -> bool:
    if flag == "capped":
        return rec.get("cap") is not None
    if flag == "rejected_by_code":  # a judgment where code overruled the LLM's verdict
        return any(r.get("llm_verdict") not in (None, r.get("verdict")) for r in rec.get("requirements") or [])
    return bool(rec.get(flag))


def line_offsets(path: Path) -> np.ndarray:
    """Byte offset of every line's start (the file ends with a newline)."""
    parts, base = [np.zeros(1, dtype=np.int64)], 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            nl = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10).astype(np.int64)
            parts.append(nl + base + 1)
            base += len(chunk)
    offs = np.concatenate(parts)
    return offs[offs < base] if base else offs[:0]


class Pager:
    """Per-server caches of offsets and filter results (bounded, keyed by path and modification time)."""

    def __init__(self, max_entries: int = 32):
        self.max = max_entries
        self._offsets: OrderedDict = OrderedDict()
        self._matches: OrderedDict = OrderedDict()

    def _cached(self, cache: OrderedDict, key, make):
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        val = cache[key] = make()
        while len(cache) > self.max:
            cache.popitem(last=False)
        return val

    def offsets(self, path: Path) -> np.ndarray:
        return self._cached(self._offsets, (str(path), path.stat().st_mtime_ns), lambda: line_offsets(path))

    def matches(self, path: Path, f: Filter) -> list[int]:
        return self._cached(self._matches, (str(path), path.stat().st_mtime_ns, f), lambda: _scan(path, f))

    def page(self, path: Path, count: int, page: int, size: int, f: Filter = Filter()) -> tuple[list[dict], int]:
        """(records of 1-based `page`, total matching)."""
        start = (page - 1) * size
        if f.empty:
            if page == 1:
                return _head(path, size), count
            offs = self.offsets(path)
            return _read_at(path, offs, range(start, min(start + size, len(offs)))), len(offs)
        hits = self.matches(path, f)
        return _read_at(path, self.offsets(path), hits[start:start + size]), len(hits)

    def find(self, path: Path, rec_id: str) -> dict | None:
        return find_record(path, rec_id)


def _head(path: Path, n: int) -> list[dict]:
    out = []
    with open(path, "rb") as fh:
        for line in fh:
            if len(out) >= n:
                break
            out.append(json.loads(line))
    return out


def _read_at(path: Path, offs: np.ndarray, idxs) -> list[dict]:
    out = []
    with open(path, "rb") as fh:
        for i in idxs:
            fh.seek(int(offs[i]))
            out.append(json.loads(fh.readline()))
    return out


def _scan(path: Path, f: Filter) -> list[int]:
    words = [w.encode("utf-8") for w in f.q.lower().split()]
    only_text = f.type == f.stage == f.label == f.flag == ""
    hits = []
    with open(path, "rb") as fh:
        for i, line in enumerate(fh):
            if words:
                low = line.lower()
                if not all(w in low for w in words):
                    continue
            if only_text or f.matches(json.loads(line)):
                hits.append(i)
    return hits


def find_record(path: Path, rec_id: str) -> dict | None:
    if not path.exists() or path.stat().st_size == 0:
        return None
    key = b'"id":' + json.dumps(rec_id).encode("utf-8")
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        pos = mm.find(key)
        while pos >= 0:
            start = mm.rfind(b"\n", 0, pos) + 1
            end = mm.find(b"\n", pos)
            rec = json.loads(mm[start:end if end >= 0 else len(mm)])
            if rec.get("id") == rec_id:
                return rec
            pos = mm.find(key, pos + 1)
    return None
