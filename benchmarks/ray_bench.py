"""LLM calls on 1 process vs 2 Ray workers, against two local scripted servers (#17).

    python benchmarks/ray_bench.py [--n 4000] [--quick]

Two test servers (tests/llm_server.py, each in its own process: 200 ms per request, at most 64 in flight, so 320
req/s each and 640 together) serve one model; both clients spread the calls over both (`--api-base` twice). The same
Signature and items in both rows: Mira's runner in one process (128 in flight), then the runner with `--ray local
--workers 2` (64 in flight per worker; the driver keeps cache, journal, checks and limits). Each row runs in a fresh
home. Printed: req/s, driver CPU per call, the ratio Ray / one process, and the cluster start time apart.
On a 2-core machine the two workers and the two servers share the same cores: read the ratio with that in mind.
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
    ap.add_argument("--quick", action="store_true", help="1,000 calls")
    args = ap.parse_args()
    n = 1000 if args.quick else args.n
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
                    ex = RayExecutor(cfg, "local", workers=2, concurrency=64)
                    ex.pids()  # the actors are up
                    start = time.perf_counter() - t
                r = Runner(cfg, Path(home), RunnerConfig(concurrency=128, progress=False, backoff_max=1.0),
                           executor=ex)
                cpu0, t0 = time.process_time(), time.perf_counter()
                res = r.run(Stage(), items)
                secs, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                rows[mode] = {"n": n, "ok": len(res.kept), "rps": n / secs, "cpu_ms": 1000 * cpu / n,
                              "start": start}
                console.print(f"{mode}: {n / secs:.1f} req/s")
    finally:
        for proc, _ in servers:
            proc.kill()
    t = Table(title=f"{n} structured calls over two servers (200 ms, 64 in flight each: limit 640 req/s)")
    for col in ("client", "ok", "req/s", "driver CPU ms/call", "cluster start s"):
        t.add_column(col, justify="left" if col == "client" else "right")
    for name, m in rows.items():
        t.add_row(name, f"{m['ok']}/{m['n']}", f"{m['rps']:.1f}", f"{m['cpu_ms']:.2f}",
                  f"{m['start']:.1f}" if m["start"] else "")
    console.print(t)
    one, ray_ = rows["one process"], rows["ray, 2 workers"]
    print(bench_line("ray", calls=n, one_rps=one["rps"], ray_rps=ray_["rps"], ratio=ray_["rps"] / one["rps"],
                     one_cpu_ms_per_call=one["cpu_ms"], driver_cpu_ms_per_call=ray_["cpu_ms"],
                     cluster_start_s=ray_["start"]))


if __name__ == "__main__":
    main()
