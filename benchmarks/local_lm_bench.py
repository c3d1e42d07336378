"""The embedded local LM (SmolLM2-135M-Instruct GGUF via transformers + gguf, constrained by outlines) on this CPU:
load time, generation tokens/s, and seconds per stage-1 (extract) call on real JDs from the committed sample.

    python benchmarks/local_lm_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _common import bench_line

from synth.cli.demo import import_samples
from synth.lm.config import LMConfig
from synth.lm.local import LocalTransport, output_schema
from synth.stages import extract
from synth.stages.extract import ExtractAnchor
from synth.store import DatasetStore


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one JD instead of three")
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    import dspy

    store = DatasetStore(tempfile.mkdtemp())
    import_samples(store)
    jds = store.resolve("sample-jd").records()[: 1 if args.quick else 3]
    tr = LocalTransport(LMConfig(model="local"))
    t0 = time.perf_counter()
    tr._load()
    load = time.perf_counter() - t0
    free = tr.generate([{"role": "user", "content": "Write three sentences about recruiting."}], None, 128)
    schema = output_schema(ExtractAnchor)
    adapter = dspy.ChatAdapter()
    sig = extract.Extract().predict.signature
    rows = []
    for jd in jds:
        msgs = adapter.format(sig, [], extract.make_task(jd).inputs)
        r = tr.generate(msgs, schema, 400)
        rows.append((jd["id"], r.usage["prompt_tokens"], r.usage["completion_tokens"], r.latency, r.finish_reason))
    t = Table(title="stage-1 calls with the embedded model (JSON-schema constrained)")
    for col in ("JD", "prompt tokens", "output tokens", "seconds", "finish"):
        t.add_column(col)
    for row in rows:
        t.add_row(row[0], str(row[1]), str(row[2]), f"{row[3]:.1f}", row[4])
    Console().print(t)
    tps = free.usage["completion_tokens"] / free.latency
    print(f"load {load:.1f} s; free generation {free.usage['completion_tokens']} tokens in {free.latency:.1f} s")
    print(bench_line("local_lm", tokens_per_s=tps, seconds_per_call=sum(r[3] for r in rows) / len(rows),
                     constrained_tokens_per_s=sum(r[2] for r in rows) / sum(r[3] for r in rows),
                     load_seconds=load))


if __name__ == "__main__":
    main()
