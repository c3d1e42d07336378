"""LLM calls on 1 process vs 2 Ray Data workers, against two local scripted servers (#17).

    python benchmarks/ray_bench.py [--n 4000] [--quick]

Two test servers (tests/llm_server.py, each in its own process: 200 ms per request, at most 64 in flight, so 320
req/s each and 640 together) serve one model; both clients spread the calls over both (`--api-base` twice). The same
Signature and items in both rows: Mira's runner in one process (128 in flight), then the runner with `--ray local
--workers 2` (the calls shipped as a Ray dataset to 2 runner actors, 64 in flight each; the driver keeps cache,
journal and checks). Each row runs in a fresh home. Printed: req/s, driver CPU per call, the ratio Ray / one process,
and the cluster start time apart. The worker pool starts with the dataset, inside the Ray row: the seconds to its
first answer are printed, and the rate over the rest of the run.
On a 2-core machine the two workers and the two servers share the same cores: read the ratio with that in mind.

Then corpus encoding (#17 item 2): `--cvs` real livecareer CVs (the shared data) encoded by the zero-shot MiniLM at
256 tokens, in this process and on 2 Ray Data encode workers (shards of 64), each into a fresh cache: CVs per second
(the pool's start-up included, and printed apart) and the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import bench_line, classify_stage
from runner_bench import start_server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--quick", action="store_true", help="1,000 calls, 100 CVs")
    ap.add_argument("--cvs", type=int, default=400)
    args = ap.parse_args()
    n, n_cvs = (1000, 100) if args.quick else (args.n, args.cvs)
    from rich.console import Console
    from rich.table import Table

    from synth.lm.config import LMConfig
    from synth.runner import Runner, RunnerConfig, Task
    from synth.runner.ray_exec import RayExecutor

    _, Stage = classify_stage()

    console = Console()
    servers = [start_server(0.2), start_server(0.2)]
    rows = {}
    try:
        cfg = LMConfig(model="openai/gpt-4o-mini", api_base=servers[0][1], more_bases=(servers[1][1],), timeout=30)
        for mode in ("one process", "ray, 2 workers"):
            items = [Task(f"i{i}", {"jd": f"Posting {i}: senior data engineer, Spark and Airflow ({mode})"})
                     for i in range(n)]
            with tempfile.TemporaryDirectory() as home:
                ex, start = None, 0.0
                if mode.startswith("ray"):
                    t = time.perf_counter()
                    ex = RayExecutor(cfg, "local", workers=2, concurrency=64)  # the cluster; the worker pool starts
                    start = time.perf_counter() - t  # with the dataset, inside the timed run below
                r = Runner(cfg, Path(home), RunnerConfig(concurrency=128, progress=False, backoff_max=1.0),
                           executor=ex)
                cpu0, t0 = time.process_time(), time.perf_counter()
                res = r.run(Stage(), items)
                secs, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                rows[mode] = {"n": n, "ok": len(res.kept), "rps": n / secs, "cpu_ms": 1000 * cpu / n,
                              "start": start, "pool_s": ex.first_answers[0] - t0 if ex else 0.0}
                console.print(f"{mode}: {n / secs:.1f} req/s")
    finally:
        for proc, _ in servers:
            proc.kill()
    t = Table(title=f"{n} structured calls over two servers (200 ms, 64 in flight each: limit 640 req/s)")
    for col in ("client", "ok", "req/s", "driver CPU ms/call", "cluster start s", "first answer s"):
        t.add_column(col, justify="left" if col == "client" else "right")
    for name, m in rows.items():
        t.add_row(name, f"{m['ok']}/{m['n']}", f"{m['rps']:.1f}", f"{m['cpu_ms']:.2f}",
                  f"{m['start']:.1f}" if m["start"] else "", f"{m['pool_s']:.1f}" if m["pool_s"] else "")
    console.print(t)
    enc = encode_rates(n_cvs)
    console.print(f"corpus encoding, {n_cvs} livecareer CVs at 256 tokens: one process {enc['one']:.1f} CVs/s, "
                  f"2 Ray Data workers {enc['ray']:.1f} CVs/s ({enc['ray'] / enc['one']:.2f}x, their start-up "
                  f"included; it alone takes {enc['pool_start_s']:.1f} s)")
    one, ray_ = rows["one process"], rows["ray, 2 workers"]
    print(bench_line("ray", calls=n, one_rps=one["rps"], ray_rps=ray_["rps"], ratio=ray_["rps"] / one["rps"],
                     one_cpu_ms_per_call=one["cpu_ms"], driver_cpu_ms_per_call=ray_["cpu_ms"],
                     cluster_start_s=ray_["start"], ray_first_answer_s=ray_["pool_s"],
                     ray_rps_after_first_answer=n / (n / ray_["rps"] - ray_["pool_s"]),
                     cvs=n_cvs, one_cvs_per_s=enc["one"], ray_cvs_per_s=enc["ray"],
                     encode_ratio=enc["ray"] / enc["one"], encode_pool_start_s=enc["pool_start_s"]))


def encode_rates(n: int) -> dict:
    """CVs per second: the scorer's own encoding here, then on 2 Ray workers (model load and cluster start apart)."""
    import csv
    import sys

    from train.embed_cache import EmbeddingCache, ShardedEmbeddingCache
    from train.scorer import make_scorer
    from train.ray_encode import RayEncoder

    from _common import data_dir

    csv.field_size_limit(sys.maxsize)
    src = data_dir() / "cvs/livecareer_resumes/livecareer_resumes_from_pdf.csv"
    with open(src, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    texts = [r["Resume_text"] for r in rows if (r.get("Resume_text") or "").strip()][:n]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        sc = make_scorer("zero-shot", max_length=256)
        sc.encoder()  # loaded before the clock starts, as the Ray workers are
        t0 = time.perf_counter()
        sc.embed(texts, EmbeddingCache(Path(tmp) / "one.sqlite"))
        out["one"] = len(texts) / (time.perf_counter() - t0)
        sc.remote = RayEncoder("local", workers=2, shard=64)
        t0 = time.perf_counter()  # a Ray Data pool starts with each dataset: its start-up, measured on one text
        sc.remote.encode(sc.model_path, sc.max_length, False, ["warm up"])
        out["pool_start_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        sc.embed(texts, ShardedEmbeddingCache(Path(tmp) / "ray"))
        out["ray"] = len(texts) / (time.perf_counter() - t0)  # pool start-up included
    return out


if __name__ == "__main__":
    main()
