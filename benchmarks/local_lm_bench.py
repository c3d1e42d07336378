"""The embedded LM (SmolLM2-135M-Instruct GGUF, llguidance-constrained) on real Monster JDs from the shared data: the
keep rate of each JD stage with and without grounded decoding, seconds per call, and schema compile time apart.

    python benchmarks/local_lm_bench.py [--jds 20] [--quick]

Both arms run `run_jd_pipeline` (stages 1-5, one boundary and one constraint variant per anchor, no re-asks, as the
demo does) on the same JDs with the same model, each in a fresh home. "plain" decodes under the Signature's bounded
JSON schema only (the runner's per-item grounding removed); "grounded" is what Mira does: stage 1's title, skills and
evidence quotes are the JD's own spans, stages 2-5 open their text with the anchor's title and must values, stage 4's
scope is below the anchor's, stage 5's replacement is code-chosen for years and degrees. The checks are the same in
both arms. Keep rate = kept / generated per stage (stage 1: anchors / JDs sent).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

from _common import bench_line, data_dir

from synth.importer import import_file
from synth.lm.config import LMConfig
from synth.lm.local import LocalTransport
from synth.runner import Runner, RunnerConfig
from synth.stages.pipeline import JDPipelineConfig, run_jd_pipeline
from synth.store import DatasetStore

STAGES = ("extract", "paraphrase", "card", "boundary", "constraint")


def monster_subset(n: int, out: Path) -> Path:
    """The first n postings of the shared Monster file with a description, as a CSV of the same columns."""
    csv.field_size_limit(sys.maxsize)
    src = data_dir() / "jds" / "monster_jobs_sample" / "jobs_sample.csv"
    with open(src, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = [r for r in reader if len((r.get("job_description") or "").split()) >= 60][:n]
        fields = reader.fieldnames
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return out


def run_arm(arm: str, jd_file: Path, n: int, transport: LocalTransport, home: str | None = None) -> dict:
    store = DatasetStore(home or tempfile.mkdtemp(prefix=f"mira-bench-{arm}-"))
    print(f"{arm}: home {store.home}", flush=True)
    import_file(store, "jd", jd_file, "monster", preset="monster")
    runner = Runner(LMConfig(model="local"), store.home, RunnerConfig(concurrency=1, max_reasks=0),
                    transport=transport)
    if arm == "plain":  # the ablation: the same bounded schema, without the item's grounding
        plain = runner._schema
        runner._schema = lambda module, task=None: plain(module, None)
    c0, s0, f0, n0 = transport.compile_seconds, transport.compiles, transport.forward_passes, transport.tokens_out
    t0 = time.perf_counter()
    res = run_jd_pipeline(store, runner, "monster", "b", JDPipelineConfig(n_boundary=1, n_constraint=1, limit=n))
    wall = time.perf_counter() - t0
    stages = (res.pairs or res.anchors).manifest["stages"]
    calls = transport.compiles - s0  # every call decodes under its own schema
    return {"stages": stages, "wall": wall, "calls": calls, "compile": transport.compile_seconds - c0,
            "tokens": transport.tokens_out - n0, "passes": transport.forward_passes - f0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jds", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="3 JDs")
    ap.add_argument("--homes", nargs=2, metavar=("PLAIN", "GROUNDED"),
                    help="reuse the two homes of an earlier run: its answers are replayed from the cache and re-checked "
                         "with today's checks (keep rates of the current code; no model call, so no timings)")
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    n = 3 if args.quick else args.jds
    tmp = Path(tempfile.mkdtemp())
    jd_file = monster_subset(n, tmp / "monster.csv")
    transport = LocalTransport(LMConfig(model="local"))
    t0 = time.perf_counter()
    transport._load()
    load = time.perf_counter() - t0
    homes = dict(zip(("plain", "grounded"), args.homes or (None, None)))
    results = {arm: run_arm(arm, jd_file, n, transport, homes[arm]) for arm in ("plain", "grounded")}

    def rate(st: dict, stage: str) -> tuple[int, int]:
        c = st.get(stage) or {}
        return c.get("kept", 0), c.get("generated", c.get("in", 0))

    t = Table(title=f"embedded SmolLM2-135M on {n} real Monster JDs: kept / generated per stage")
    t.add_column("stage")
    for arm in results:
        t.add_column(arm, justify="right")
    for stage in STAGES:
        cells = []
        for r in results.values():
            k, g = rate(r["stages"], stage)
            cells.append(f"{k}/{g} ({k / g:.0%})" if g else "0/0")
        t.add_row(stage, *cells)
    for label, fn in (("LLM calls", lambda r: str(r["calls"])),
                      ("seconds per call (decoding)",
                       lambda r: f"{(r['wall'] - r['compile']) / max(1, r['calls']):.1f}"),
                      ("schema compile, s per call", lambda r: f"{r['compile'] / max(1, r['calls']):.2f}"),
                      ("answer tokens / forward passes", lambda r: f"{r['tokens']} / {r['passes']}"),
                      ("wall, s", lambda r: f"{r['wall']:.0f}")):
        t.add_row(label, *[fn(r) for r in results.values()])
    Console().print(t)
    print(f"model load {load:.1f} s")
    line = {}
    for arm, r in results.items():
        for stage in STAGES:
            k, g = rate(r["stages"], stage)
            line[f"{arm}_{stage}_kept"] = k
            line[f"{arm}_{stage}_rate"] = k / g if g else 0.0
        line[f"{arm}_s_per_call"] = (r["wall"] - r["compile"]) / max(1, r["calls"])
        line[f"{arm}_compile_s_per_call"] = r["compile"] / max(1, r["calls"])
        line[f"{arm}_tokens_per_pass"] = r["tokens"] / max(1, r["passes"])
    print(bench_line("local_lm", jds=n, load_seconds=load, **line))


if __name__ == "__main__":
    main()
