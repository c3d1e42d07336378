"""LLM runner throughput, client CPU, warm-cache re-run and fault handling against the local test server.

    python benchmarks/runner_bench.py [--quick]

The server (tests/llm_server.py) runs in its own process: 200 ms per request, at most 64 in flight (limit 320 req/s).
Each client runs in a fresh process. Compared in the same run: a raw aiohttp client (64 at once, one prompt
template, JSON decode and a regex for the fields: the ceiling, `raw_rps`), Mira's runner, DSPy's
`module.batch(num_threads=16)` and an asyncio + `acall` loop (64 at once), both with DSPy's default LM client.

The headline ratio is Mira's runner against the `acall` loop: like for like, 64 requests in flight each, the same
module, server and items. `module.batch(16)` has a quarter of the concurrency, so its ratio is printed beside it
for reference only, never as the headline.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, bench_line, classify_stage

SERVER = ROOT / "tests" / "llm_server.py"
LIMIT_RPS = 64 / 0.2


def start_server(latency: float, fault_rate: float = 0.0, stats: Path | None = None, hang: float = 2.0):
    cmd = [sys.executable, str(SERVER), "--latency", str(latency), "--concurrency", "64", "--fault-rate",
           str(fault_rate), "--hang-seconds", str(hang), "--max-seconds", "900"]
    if stats:
        cmd += ["--stats-file", str(stats)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().split()[1])
    return proc, f"http://127.0.0.1:{port}/v1"


def child(mode: str, url: str, n: int, home: str, run_id: str, timeout: float) -> dict:
    os.environ.setdefault("DSPY_CACHEDIR", str(Path(home) / "dspy-cache"))
    import asyncio

    import dspy

    Classify, Stage = classify_stage()

    tag = run_id.split("-")[-1]  # throughput runs differ per client; the warm re-run repeats the fill's prompts
    items = [f"Posting {i}: senior data engineer, Spark and Airflow ({tag})" for i in range(n)]
    cpu0, t0 = time.process_time(), time.perf_counter()
    ok = 0
    if mode == "raw":  # the ceiling: aiohttp, one prompt template, JSON decode and a regex for the fields
        import aiohttp

        system = dspy.ChatAdapter().format_system_message(Classify)
        field = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\n\[\[ ## |\Z)", re.S)

        async def run_raw():
            sem = asyncio.Semaphore(64)
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
                async def one(t):
                    body = {"model": "gpt-4o-mini", "messages": [
                        {"role": "system", "content": system},
                        {"role": "user", "content": f"[[ ## jd ## ]]\n{t}\n\nRespond with the corresponding output "
                                                    "fields, starting with the field `[[ ## family ## ]]`."}]}
                    async with sem, session.post(f"{url}/chat/completions", json=body) as resp:
                        data = await resp.json()
                    fields = dict(field.findall(data["choices"][0]["message"]["content"]))
                    return {"family", "seniority"} <= set(fields)

                return await asyncio.gather(*[one(t) for t in items], return_exceptions=True)

        cpu0, t0 = time.process_time(), time.perf_counter()
        ok = sum(1 for o in asyncio.run(run_raw()) if o is True)
        extra = {}
    elif mode == "mira":
        sys.path.insert(0, str(ROOT))
        from synth.lm.config import LMConfig
        from synth.runner import Runner, RunnerConfig, Task

        r = Runner(LMConfig(model="openai/gpt-4o-mini", api_base=url, timeout=timeout), home,
                   RunnerConfig(concurrency=64, progress=False, backoff_max=1.0))
        cpu0, t0 = time.process_time(), time.perf_counter()  # measure the run, not the imports
        res = r.run(Stage(), [Task(f"i{i}", {"jd": t}) for i, t in enumerate(items)], run_id=run_id)
        ok = len(res.kept)
        extra = {"rejected": len(res.rejected), "outcomes": len(res.outcomes), "calls": res.stats.calls,
                 "retries": res.stats.retries, "invalid": res.stats.invalid_answers,
                 "faults_seen": sum(res.stats.faults.values())}
    else:
        lm = dspy.LM("openai/gpt-4o-mini", api_base=url, api_key="bench", cache=False, num_retries=0)
        dspy.configure(lm=lm)
        stage = Stage()
        cpu0, t0 = time.process_time(), time.perf_counter()
        if mode == "batch":
            out = stage.batch([dspy.Example(jd=t).with_inputs("jd") for t in items], num_threads=16,
                              disable_progress_bar=True, return_failed_examples=False)
            ok = sum(1 for o in out if o is not None)
        else:
            async def run():
                sem = asyncio.Semaphore(64)

                async def one(t):
                    async with sem:
                        return await stage.acall(jd=t)

                return await asyncio.gather(*[one(t) for t in items], return_exceptions=True)

            ok = sum(1 for o in asyncio.run(run()) if not isinstance(o, Exception))
        extra = {}
    secs, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"seconds": secs, "cpu": cpu, "ok": ok, "n": n, **extra}


def run_child(mode, url, n, home, run_id="bench", timeout=30.0) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--url", url, "--n", str(n), "--home", home,
                          "--run-id", run_id, "--timeout", str(timeout)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{mode} client failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller item counts")
    ap.add_argument("--child")
    ap.add_argument("--url")
    ap.add_argument("--n", type=int)
    ap.add_argument("--home")
    ap.add_argument("--run-id", default="bench")
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.url, args.n, args.home, args.run_id, args.timeout)))
        return
    from rich.console import Console
    from rich.table import Table

    n_thr, n_warm, n_fault = (600, 2000, 300) if args.quick else (2000, 10000, 1000)
    console = Console()
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(0.2)
        try:
            for mode in ("raw", "mira", "batch", "acall"):
                res[mode] = run_child(mode, url, n_thr, str(Path(tmp) / mode), run_id=f"thr-{mode}")
                console.print(f"{mode}: {res[mode]['n'] / res[mode]['seconds']:.1f} req/s")
        finally:
            proc.kill()
        # warm cache: fill 10k answers from a zero-latency server, then re-run under a new journal
        stats = Path(tmp) / "warm-stats.json"
        proc, url = start_server(0.0, stats=stats)
        try:
            home = str(Path(tmp) / "warm")
            run_child("mira", url, n_warm, home, run_id="fill-warm")
            time.sleep(1.1)
            before = json.loads(stats.read_text()).get("requests", 0)
            res["warm"] = run_child("mira", url, n_warm, home, run_id="rerun-warm")
            time.sleep(1.1)
            res["warm"]["server_calls"] = json.loads(stats.read_text()).get("requests", 0) - before
        finally:
            proc.kill()
        stats = Path(tmp) / "fault-stats.json"
        proc, url = start_server(0.05, fault_rate=0.2, stats=stats, hang=3.0)
        try:
            res["fault"] = run_child("mira", url, n_fault, str(Path(tmp) / "fault"), run_id="fault", timeout=1.0)
            time.sleep(1.1)
            res["fault"]["server"] = json.loads(stats.read_text())
        finally:
            proc.kill()

    m, b, a, w, f, raw = res["mira"], res["batch"], res["acall"], res["warm"], res["fault"], res["raw"]
    rps = lambda r: r["n"] / r["seconds"]  # noqa: E731
    t = Table(title=f"LLM clients vs the test server (200 ms, 64 in flight, limit {LIMIT_RPS:.0f} req/s)")
    for col in ("client", "items", "ok", "req/s", "% of limit", "client CPU ms/call"):
        t.add_column(col, justify="left" if col == "client" else "right")
    for name, r in (("raw aiohttp (64): the ceiling", raw), ("mira runner (64)", m), ("dspy module.batch(16)", b),
                    ("dspy acall loop (64)", a)):
        t.add_row(name, str(r["n"]), str(r["ok"]), f"{rps(r):.1f}", f"{100 * rps(r) / LIMIT_RPS:.0f}%",
                  f"{1000 * r['cpu'] / r['n']:.2f}")
    console.print(t)
    console.print(f"headline: mira runner / dspy acall loop, both 64 in flight: {rps(m) / rps(a):.2f}x "
                  f"(beside it, mira / dspy module.batch(16), not like for like: {rps(m) / rps(b):.2f}x); "
                  f"client CPU per call: mira {1000 * m['cpu'] / m['n']:.2f} ms, acall "
                  f"{1000 * a['cpu'] / a['n']:.2f} ms")
    srv = f["server"]
    console.print(f"warm re-run of {w['n']} items: {w['seconds']:.2f} s, {w['server_calls']} server calls, "
                  f"{w['ok']} ok")
    console.print(f"fault run ({f['n']} items, 20% faults): {f['ok']} kept + {f['rejected']} rejected; "
                  f"server injected {srv.get('faults', 0)} faults, runner saw {f['faults_seen']} transport faults "
                  f"+ {f['invalid']} invalid answers")
    fault_lost = f["n"] - (f["ok"] + f["rejected"])
    print(bench_line("runner", rps=rps(m), pct_of_limit=100 * rps(m) / LIMIT_RPS, raw_rps=rps(raw),
                     pct_of_raw=100 * rps(m) / rps(raw), raw_cpu_ms_per_call=1000 * raw["cpu"] / raw["n"], batch_rps=rps(b),
                     acall_rps=rps(a), speedup_vs_acall=rps(m) / rps(a), speedup_vs_batch=rps(m) / rps(b),
                     acall_cpu_ms_per_call=1000 * a["cpu"] / a["n"], cpu_ms_per_call=1000 * m["cpu"] / m["n"],
                     warm_rerun_seconds=w["seconds"], warm_rerun_calls=w["server_calls"], fault_lost=fault_lost,
                     faults_injected=srv.get("faults", 0), faults_counted=f["faults_seen"] + f["invalid"]))


if __name__ == "__main__":
    main()
