"""Table 1 of `mira synth jd` on 50 real JDs (25 Monster, 25 Google from the shared data) through the local
OpenAI-compatible test server: the cooperative scripted LLM (tests/scripted_llm.py), then the lazy one of issue #18
(extracts plainly, then answers every rewrite with its input verbatim and claims the requested scope).

    python benchmarks/synth_table1.py [--jds 50]

Prints the per-stage table (generated / kept / rejected / duplicates, kept per JD against the request, JDs that
reached it) for each, and a BENCH line with the cooperative yield per JD and what the lazy LLM got kept.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import bench_line, data_dir


def lazy(messages):
    """Stage 1 cooperative; stages 2-5 answer with the anchor card verbatim and the fields the check asks for."""
    from tests import scripted_llm
    from tests.llm_server import render_fields
    from tests.scripted_llm import card_fields, inputs, unfence

    system, inp = messages[0]["content"], inputs(messages)
    if "conservative structured anchor" in system or "compress a raw job description" in system:
        return scripted_llm.answer(messages)
    card = unfence(inp["anchor"])
    title, must = card_fields(card)
    return render_fields({"title": title, "scope_level": inp.get("target_scope", "assists"),
                          "responsibilities": ["assists"], "must": must, "text": card})


def run(store, jds_ref: str, fn, name: str):
    from synth.lm.config import LMConfig
    from synth.runner import Runner, RunnerConfig
    from synth.stages.pipeline import JDPipelineConfig, run_jd_pipeline
    from tests.llm_server import LLMServer

    srv = LLMServer().start()
    try:
        srv.add("", fn=fn)
        r = Runner(LMConfig(model="openai/gpt-4o-mini", api_base=srv.url, timeout=10), store.home,
                   RunnerConfig(concurrency=16, progress=False))
        return run_jd_pipeline(store, r, jds_ref, name, JDPipelineConfig())
    finally:
        srv.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jds", type=int, default=50)
    args = ap.parse_args()
    from rich.console import Console

    from mira.cli.data import stage_table
    from synth.importer import import_file
    from synth.store import DatasetStore
    from tests.scripted_llm import answer

    con = Console(width=200)
    with tempfile.TemporaryDirectory() as tmp:
        store = DatasetStore(Path(tmp) / "home")
        d = data_dir()
        half = args.jds // 2
        import_file(store, "jd", d / "jds/monster_jobs_sample/jobs_sample.csv", "monster", preset="monster")
        import_file(store, "jd", d / "jds/google_job_skills/job_skills.csv", "google", preset="google")
        jds = store.resolve("monster").records()[:half] + store.resolve("google").records()[:args.jds - half]
        v = store.write("real50", "jd", jds, manifest={"parents": [store.resolve("monster").ref,
                                                                    store.resolve("google").ref]})
        figures = {}
        for label, fn in (("cooperative", answer), ("lazy", lazy)):
            res = run(store, v.ref, fn, label)
            t = stage_table(res.pairs)
            t.title = f"Table 1, {label} scripted LLM, {len(jds)} real JDs ({half} Monster, {len(jds) - half} Google)"
            con.print(t)
            stages = res.pairs.manifest["stages"]
            figures[label] = stages
        coop, lz = figures["cooperative"], figures["lazy"]
        n_anchor = coop["extract"]["kept"]
    print(bench_line("synth_table1", jds=len(jds), anchors=n_anchor,
                     **{f"{s}_per_jd": round(coop[s]["kept"] / max(1, coop[s]["jds"]), 3)
                        for s in ("paraphrase", "card", "boundary", "constraint")},
                     boundary_jds_at_request=coop["boundary"]["jds_at_request"],
                     **{f"lazy_{s}_kept": lz[s]["kept"] for s in ("paraphrase", "boundary", "constraint")}))


if __name__ == "__main__":
    main()
