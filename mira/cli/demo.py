"""`mira demo`: the whole pipeline on the committed samples, offline, with a real (tiny) local LLM by default.

import -> the five JD stages (small n) -> JD–CV generation -> judge a few pairs -> R2 for a few steps on the RJDB
sample -> an evaluation table before / after. Every LLM answer is cached and the R2 model is reused when its inputs
are unchanged, so a re-run is fast.
"""

from __future__ import annotations

import json
import os
import time

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from synth.importer import import_file
from synth.paths import sample_file
from synth.store import DatasetStore
from .common import err_console

SAMPLES = [("jd", "monster_jds_sample.csv", "monster", "sample-jd"),
           ("cv", "livecareer_cvs_sample.csv", "livecareer", "sample-cv"),
           ("pool", "rjdb_pairs_sample.jsonl", "rjdb", "sample-rjdb")]


def import_samples(store: DatasetStore) -> dict[str, str]:
    """Import the three committed samples; returns dataset name -> ref."""
    refs = {}
    for kind, file, preset, name in SAMPLES:
        report = import_file(store, kind, sample_file(file), name, preset=preset)
        for v in report.versions:
            refs[v.name] = v.ref
    return refs


def _step(console: Console, n: int, text: str) -> None:
    console.rule(f"[bold]{n}. {text}")


def demo_jds(store: DatasetStore, n: int) -> tuple[str, ...]:
    """The first `n` sample JDs (in file order) that plainly read as postings and state a requirement with years:
    each stage then has something to work from (a constraint to flip, requirements to judge against). The others
    are left to `mira synth jd`, which takes every JD."""
    from synth.stages.extract import PLAIN_POSTING, YEARS, jd_input, posting_cues, requirement_sentences

    picked = []
    for jd in store.resolve("sample-jd", "jd").iter_records():
        years = any(YEARS.search(q) for q in requirement_sentences(jd)[0])
        if posting_cues(jd_input(jd)) >= PLAIN_POSTING + 1 and years:  # the plainest postings
            picked.append(jd["id"])
        if len(picked) == n:
            break
    return tuple(picked)


def run_demo(store: DatasetStore, console: Console, lm: str | None = None, api_base: str | None = None,
             n_jds: int = 1, train: bool = True) -> dict:
    from synth.lm.config import resolve_lm_config
    from synth.lm.factory import make_transport
    from synth.runner import Runner, RunnerConfig

    t0 = time.time()
    out: dict = {"timings": {}, "load_start": os.getloadavg()[0]}
    _step(console, 1, "Import the committed samples (Monster JDs, livecareer CVs, RJDB JD–CV pairs)")
    refs = import_samples(store)
    t = Table("dataset", "kind", "records")
    for ref in refs.values():
        v = store.resolve(ref)
        t.add_row(v.ref, v.kind, str(v.count))
    console.print(t)
    cfg = resolve_lm_config(lm, api_base, store.home)
    local = cfg.model == "local"
    if local:
        console.print(Panel.fit("The embedded LLM is SmolLM2-135M-Instruct running on your CPU: a tiny model that shows "
                                "the plumbing, not quality. Its answers are constrained to parse, and the checks reject "
                                "what it invents.", title="local model", border_style="yellow"))
    transport = make_transport(cfg)
    rc = RunnerConfig(concurrency=1 if local else 16, max_reasks=0 if local else 1)
    runner = lambda: Runner(cfg, store.home, rc, console=err_console, transport=transport)  # noqa: E731
    out["timings"]["import"] = time.time() - t0

    from synth.stages.pipeline import JDPipelineConfig, run_jd_pipeline
    from .data import stage_table

    picked = demo_jds(store, n_jds)
    _step(console, 2, f"The five JD stages on {len(picked)} real JD(s) that state their requirements: anchor, "
                      "paraphrase, card, boundary, constraint")
    t1 = time.time()
    res = run_jd_pipeline(store, runner(), "sample-jd", "demo-jd",
                          JDPipelineConfig(n_boundary=1, n_constraint=1, limit=n_jds, only=picked))
    last = res.pairs or res.anchors
    if (st := stage_table(last)) is not None:
        st.title = "Table 1: per stage generated / kept / rejected / duplicates"
        console.print(st)
    out["jd"] = [v.ref for v in (res.anchors, res.pairs) if v]
    out["timings"]["five_stages"] = time.time() - t1

    from synth.stages.jdcv_pipeline import run_jdcv

    _step(console, 3, "JD–CV triplets for the first demo JD: balanced and deceptive hard negatives, plus a real "
                      "unrelated CV")
    t1 = time.time()
    first = store.resolve("sample-jd").by_id()[picked[0]]
    one = store.write("demo-jdcv-jd", "jd", [first], manifest={"parents": [store.resolve("sample-jd").ref]})
    anchored = res.anchors is not None and any(a["jd_id"] == first["id"] for a in res.anchors.iter_records())
    jv = run_jdcv(store, runner(), one.ref, "demo-jdcv", "both", per_jd=1, cvs_ref="sample-cv",
                  anchors_ref=res.anchors.ref if anchored else None)
    if (st := stage_table(jv)) is not None:
        console.print(st)
    out["jdcv"] = jv.ref
    out["timings"]["jdcv"] = time.time() - t1

    _step(console, 4, "Judge a matched and an unrelated JD–CV pair from the RJDB sample (scores, caps and label in "
                      "code)")
    t1 = time.time()
    out["judge"] = _judge(store, runner(), console)
    out["timings"]["judge"] = time.time() - t1

    if train:
        _step(console, 5, "R2 for a few steps on the RJDB sample, then evaluation before / after")
        t1 = time.time()
        out["eval"] = _train_and_eval(store, console)
        out["timings"]["train_eval"] = time.time() - t1
    out["timings"]["total"] = time.time() - t0
    out["load_end"] = os.getloadavg()[0]
    _what_you_made(console, store, res.anchors, res.pairs, jv)
    _closing(console, store, out, cfg.model)
    return out


def judge_pair_choice(store: DatasetStore) -> tuple[dict, dict, dict]:
    """(JD, its matched CV, an unrelated CV) from the RJDB sample: the first JD that plainly reads as a posting and
    states a requirement with years (so its requirements can be read), its own positive CV, and the positive CV of
    the first JD whose title shares no word with it."""
    from synth.stages.extract import PLAIN_POSTING, YEARS, jd_input, posting_cues, requirement_sentences

    pool = store.resolve("sample-rjdb")
    jds, cvs = store.resolve(pool.manifest["refs"]["jd"]).by_id(), store.resolve(pool.manifest["refs"]["cv"]).by_id()
    entries = [e for e in pool.iter_records() if e["positive_ids"]]

    def words(e):
        return set((jds[e["jd_id"]].get("title") or "").lower().split())

    main = next((e for e in entries if posting_cues(jd_input(jds[e["jd_id"]])) >= PLAIN_POSTING
                 and any(YEARS.search(q) for q in requirement_sentences(jds[e["jd_id"]])[0])), entries[0])
    other = next(e for e in entries if e is not main and not words(e) & words(main))
    return jds[main["jd_id"]], cvs[main["positive_ids"][0]], cvs[other["positive_ids"][0]]


def _judge(store: DatasetStore, runner, console: Console) -> str | None:
    """One RJDB JD against its own matched CV and an unrelated CV (so both labels can appear); the requirements are
    read from the JD by the extract stage, never by the judging call."""
    from judge.pool import judge_pool

    from synth.records import stable_id

    jd, matched, unrelated = judge_pair_choice(store)
    pool = store.resolve("sample-rjdb")
    entry = {"id": stable_id("pool", f"demo|{jd['id']}|{matched['id']}|{unrelated['id']}"), "kind": "pool",
             "jd_id": jd["id"], "candidate_ids": [matched["id"], unrelated["id"]], "positive_ids": [matched["id"]],
             "hard_negative_ids": [], "scope": "local"}
    sub = store.write("demo-judge-pool", "pool", [entry], manifest={"parents": [pool.ref],
                                                                     "refs": pool.manifest["refs"]})
    res = judge_pool(store, runner, sub.ref, "demo-judgments")
    kind = {matched["id"]: "matched (RJDB positive)", unrelated["id"]: "unrelated (another JD's positive)"}
    t = Table("JD", "candidate", "requirements", "raw total", "cap", "total", "label", "verdicts (met/unmet/unclear)",
              title="the judge: requirements read from the JD, scores and caps in code")
    for j in res.judgments.iter_records():
        v = [r["verdict"] for r in j["requirements"]]
        t.add_row((jd.get("title") or jd["id"])[:30], kind[j["cv_id"]], str(len(v)), f"{j['raw_total']:.1f}",
                  str(j["cap"]), f"{j['total']:.1f}", "positive" if j["label"] else "negative",
                  f"{v.count('met')}/{v.count('unmet')}/{v.count('unclear')}")
    console.print(t)
    for r in res.judgments.iter_rejects():
        console.print(f"not scored: {kind.get(r.get('cv_id'), r.get('cv_id'))}: {r.get('reason')}")
    failed = {k: v for k, v in res.stats.items() if k.startswith("failed")}
    if failed:
        console.print(f"judge answers rejected (kept in rejects with the raw output): {failed}")
    return res.judgments.ref


def _train_and_eval(store: DatasetStore, console: Console) -> dict:
    try:
        from train.config import R2Config, load_config
        from train.embed_cache import EmbeddingCache
        from train.evaluate import local_eval
        from train.report import write_comparison
        from train.scorer import make_scorer
        from train.rounds import train_r2
    except ImportError as e:
        console.print(f"[yellow]Skipping training: the train extra is not installed ({e}). "
                      "pip install -e '.[train]'[/]")
        return {}
    from synth.split import split_version

    # R2 trains on 80% of the sample's JDs and both models are measured on the other 20%, which it never saw
    train_v, test_v = split_version(store, "sample-rjdb", "jd", (0.8, 0.2), seed=0, name="demo-rjdb")
    model_dir = store.home / "models" / "demo-r2"
    cfg = load_config(R2Config, epochs=3, lr=5e-4, batch_size=16, max_length=128, val_fraction=0.2)
    manifest = model_dir / "mira_train.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("data") == train_v.ref:
        console.print(f"R2 model for {train_v.ref} already trained: {model_dir} (delete it to retrain)")
    else:
        train_r2(store, train_v.ref, None, model_dir, cfg, console=err_console)
    cache = EmbeddingCache(store.home / ".mira" / "embeddings.sqlite")
    ks = [1, 2]
    rows = [local_eval(store, test_v.ref, make_scorer(spec), ks, cache) for spec in ("zero-shot", str(model_dir))]
    rows[0]["model"], rows[1]["model"] = "zero-shot MiniLM", "R2 (demo, 3 epochs)"
    t = Table(title=f"held-out local pool {test_v.ref}: {test_v.count} RJDB JDs R2 did not train on (it trained on "
                    f"{train_v.count}); each JD: matched vs unmatched CV", show_header=True)
    for col in ("model", "Recall@1", "MRR", "positive above hard negative"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["model"], f"{r['recall@1']:.3f}", f"{r['mrr']:.3f}", f"{r['pos_above_hardneg']:.3f}")
    console.print(t)
    files = write_comparison(rows, ks, store.home / "reports" / "demo-eval", "demo: zero-shot vs R2")
    return {"rows": rows, "files": {k: str(v) for k, v in files.items()}, "model": str(model_dir),
            "n_train": train_v.count, "n_test": test_v.count}


def _clip(text: str, n: int = 260) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _what_you_made(console: Console, store: DatasetStore, anchors, pairs, jdcv) -> None:
    """Per-stage counts and one kept example of each type beside what it was made from: the data, not only counts."""
    t = Table(title="what you made: one kept example per type, beside its source", show_lines=True)
    for col in ("type", "kept", "made from (anchor / JD)", "example"):
        t.add_column(col, overflow="fold")
    if anchors is not None:
        first = next(anchors.iter_records(), None)
        t.add_row("anchor (stage 1)", str(anchors.count), "the real JD " + (first or {}).get("jd_id", ""),
                  _clip(first["card"]) if first else "none kept")
    recs = pairs.records() if pairs is not None else []
    for kind in ("paraphrase", "card", "boundary", "constraint"):
        kept = [r for r in recs if r["type"] == kind]
        ex = kept[0] if kept else None
        t.add_row(kind, str(len(kept)), _clip(ex["anchor_text"]) if ex else "", _clip(ex["text"]) if ex else
                  "none kept (see `mira data show` for the reasons)")
    if jdcv is not None:
        trips = jdcv.records()
        for gen in ("balanced", "hardneg"):
            ex = next((r for r in trips if r["generator"] == gen), None)
            t.add_row(f"JD–CV {gen}" + (f" ({ex['negative_type']})" if ex else ""),
                      str(sum(r["generator"] == gen for r in trips)), _clip(ex["jd"], 160) if ex else "",
                      _clip(ex["negative"]) if ex else "none kept")
    console.print(t)


def _closing(console: Console, store: DatasetStore, out: dict, model: str) -> None:
    lines = [f"datasets: {store.root} (see `mira data list`, `mira data show REF`)",
             f"five-stage outputs: {', '.join(out['jd'])}", f"JD–CV triplets: {out['jdcv']}",
             f"judgments: {out['judge'] or 'none'}"]
    if out.get("eval"):
        lines += [f"R2 model: {out['eval']['model']}", f"evaluation plot: {out['eval']['files']['png']}"]
    tm = out["timings"]
    steps = ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in tm.items() if k != "total")
    lines += [f"LLM answers cached in {store.home / '.mira'}: a re-run makes no LLM call.",
              f"Finished in {tm['total']:.0f} s with LM '{model}' ({steps}); target: 5 min from a fresh home on 2 "
              f"idle cores; this machine: {os.cpu_count()} cores, load average {out['load_start']:.1f} at the start, "
              f"{out['load_end']:.1f} at the end.",
              "What this small demo shows: every part runs and checks its output. What it cannot show: quality. "
              + (f"R2 trains 3 epochs on {out['eval']['n_train']} RJDB JDs and is measured on {out['eval']['n_test']} "
                 f"held-out JDs, where one JD moves Recall@1 by {1 / max(1, out['eval']['n_test']):.2f}: R2 below (or "
                 "above) zero-shot here is noise on a tiny sample, not the method's effect, which needs thousands "
                 "of JDs. " if out.get("eval") else "")
              + ("The tiny local LLM writes what real models write far better." if model == "local" else ""), "",
              "The same against a real endpoint (keys from the environment only):",
              "  mira demo --lm openai/Qwen/Qwen3-32B --api-base http://your-vllm:8000/v1",
              "  mira synth jd --jds sample-jd --name jobs --lm openai/Qwen/Qwen3-32B --api-base http://your-vllm:8000/v1"]
    console.print(Panel("\n".join(lines), title="done", border_style="green"))
