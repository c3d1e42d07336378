"""Mira Studio's records page on a 100,000-record version: the first page, a deep page, a search, a record by id.

    nice python benchmarks/studio_bench.py [--records 100000] [--home DIR]

The version is a `jd_pair` version built from the committed Monster sample JDs (each record a real JD text with its
anchor text, ~2.6 kB a line; written once, validated like any version). Each figure is the full request through
Starlette's test client (routing, reading, Jinja2 rendering of 50 rows), the median of 5 runs, each in a fresh app
(cold: no offset index, no cached filter). Baseline, like for like: the same app and template whose pager reads and
parses the whole records.jsonl to cut out a page (what serving a version without an index costs).
Target: the first page of a 100k-record version in under 1 s.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path

from _common import ROOT, bench_line

from mira.studio.app import create_app
from mira.studio.pager import Filter, Pager, _head
from synth.store import DatasetStore


class NaivePager(Pager):
    """The baseline: every page is a slice of the whole file, parsed."""

    def page(self, path: Path, count: int, page: int, size: int, f: Filter = Filter()):
        rows = [r for r in _head(path, 10 ** 9) if f.empty or f.matches(r)]
        return rows[(page - 1) * size: page * size], len(rows)


def build(store: DatasetStore, n: int):
    if store.versions("bench-pairs"):
        v = store.versions("bench-pairs")[-1]
        if v.count == n:
            return v
    with open(ROOT / "datasets" / "_raw" / "monster_jds_sample.csv", newline="", encoding="utf-8") as fh:
        texts = [row.get("job_description") or next(iter(row.values())) for row in csv.DictReader(fh)]
    texts = [t for t in texts if t and len(t) > 200]
    types = ("paraphrase", "card", "boundary", "constraint")

    def records():
        for i in range(n):
            t = texts[i % len(texts)]
            yield {"id": f"jd_pair-{i:016x}", "kind": "jd_pair", "anchor_id": f"jd_anchor-{i % 997:016x}",
                   "jd_id": f"jd-{i % 997:016x}", "anchor_text": t[:1500], "text": f"Variant {i}. " + t[:1200],
                   "type": types[i % 4], "label": "positive" if i % 4 < 2 else "negative",
                   "structured": {"title": f"role {i % 997}"},
                   "lineage": {"stage": types[i % 4], "prompt_hash": None, "model": "bench", "source_ids": []}}
    return store.write("bench-pairs", "jd_pair", records())


def timed(home: Path, url: str, naive: bool = False, warm: bool = False, runs: int = 5) -> tuple[float, int]:
    from starlette.testclient import TestClient

    times, size = [], 0
    client = None
    for _ in range(runs):
        if client is None or not warm:
            app = create_app(home, "bench")
            if naive:
                app.state.studio.pager.__class__ = NaivePager
            client = TestClient(app)
            if warm:
                client.get(url)
        t0 = time.perf_counter()
        r = client.get(url)
        times.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text[:300]
        size = len(r.content)
    return statistics.median(times), size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--home", type=Path, default=None, help="reuse a home (the version is built once)")
    args = ap.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="studio-bench-")) / "home"
    store = DatasetStore(home)
    t0 = time.perf_counter()
    v = build(store, args.records)
    mb = v.records_path.stat().st_size / 1e6
    print(f"{v.ref}: {v.count} records, {mb:.0f} MB records.jsonl (ready in {time.perf_counter() - t0:.1f} s)")
    base = f"/d/{v.ref}/records"
    deep = v.count // 50 // 2
    rows = [("first page, cold", base, False, False), ("first page, baseline (parse all)", base, True, False),
            (f"page {deep}, cold (offset index built)", f"{base}?page={deep}", False, False),
            (f"page {deep}, warm", f"{base}?page={deep}", False, True),
            (f"page {deep}, baseline (parse all)", f"{base}?page={deep}", True, False),
            ("search 'variant 99999', cold (one scan)", f"{base}?q=variant+99999", False, False),
            ("search 'variant 99999', warm (cached hits)", f"{base}?q=variant+99999", False, True),
            ("filter type=constraint page 2, cold", f"{base}?type=constraint&page=2", False, False),
            ("last record by id, cold", f"/r/{v.ref}/jd_pair-{v.count - 1:016x}", False, False)]
    res = {}
    print(f"{'request':48} {'median s':>9} {'HTML kB':>8}")
    for name, url, naive, warm in rows:
        s, size = timed(home, url, naive, warm, runs=3 if naive else 5)
        res[name] = s
        print(f"{name:48} {s:9.3f} {size / 1e3:8.1f}")
    first, first_base = res["first page, cold"], res["first page, baseline (parse all)"]
    deep_cold = res[f"page {deep}, cold (offset index built)"]
    print(f"first page: {first:.3f} s vs baseline {first_base:.3f} s ({first_base / first:.0f}x); "
          f"target < 1 s: {'met' if first < 1 else 'MISSED'}")
    print(bench_line("studio", records=v.count, mb=mb, first_page_s=first, baseline_s=first_base,
                     ratio=first_base / first, deep_page_cold_s=deep_cold,
                     deep_page_warm_s=res[f"page {deep}, warm"],
                     search_cold_s=res["search 'variant 99999', cold (one scan)"]))


if __name__ == "__main__":
    main()
