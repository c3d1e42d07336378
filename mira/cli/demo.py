"""`mira demo`: the whole pipeline on the committed samples, offline, with a real (tiny) local LLM by default.

import -> the five JD stages (small n) -> JD–CV generation -> judge a few pairs -> R2 for a few steps on the RJDB
sample -> an evaluation table before / after. Every LLM answer is cached and the R2 model is reused when its inputs
are unchanged, so a re-run is fast.
"""

from __future__ import annotations

import json
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
    out: dict = {"timings": {}}
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

    _step(console, 3, "JD–CV triplets: balanced and deceptive hard negatives, plus a real unrelated CV")
    t1 = time.time()
    jv = run_jdcv(store, runner(), "sample-jd", "demo-jdcv", "both", per_jd=1, cvs_ref="sample-cv", limit=1)
    if (st := stage_table(jv)) is not None:
        console.print(st)
    out["jdcv"] = jv.ref
    out["timings"]["jdcv"] = time.time() - t1

    _step(console, 4, "Judge real CVs against the demo JDs' anchors (scores, caps and label in code)")
    t1 = time.time()
    out["judge"] = _judge(store, runner(), console, res.anchors)
    out["timings"]["judge"] = time.time() - t1

    if train:
        _step(console, 5, "R2 for a few steps on the RJDB sample, then evaluation before / after")
        t1 = time.time()
        out["eval"] = _train_and_eval(store, console)
        out["timings"]["train_eval"] = time.time() - t1
    out["timings"]["total"] = time.time() - t0
    _what_you_made(console, store, res.anchors, res.pairs, jv)
    _closing(console, store, out, cfg.model)
    return out


def _judge(store: DatasetStore, runner, console: Console, anchors) -> str | None:
    """Each demo JD that kept an anchor against two real livecareer CVs; the requirements are the anchor's must /
    preferred constraints (`--anchors`), never the judging call's."""
    from judge.pool import judge_pool

    from synth.records import stable_id

    recs = list(anchors.iter_records()) if anchors is not None else []
    if not recs:
        console.print("No anchor was kept, so there are no requirements to judge against: skipped.")
        return None
    jd_v, cv_v = store.resolve("sample-jd"), store.resolve("sample-cv")
    cvs = {c["id"]: c for c in cv_v.records()[:2]}
    entries = [{"id": stable_id("pool", f"demo|{a['jd_id']}|{'|'.join(cvs)}"), "kind": "pool", "jd_id": a["jd_id"],
                "candidate_ids": list(cvs), "positive_ids": [], "hard_negative_ids": [], "scope": "local"}
               for a in recs]
    sub = store.write("demo-judge-pool", "pool", entries, manifest={
        "parents": [jd_v.ref, cv_v.ref, anchors.ref], "refs": {"jd": jd_v.ref, "cv": cv_v.ref}})
    res = judge_pool(store, runner, sub.ref, "demo-judgments", anchors_ref=anchors.ref)
    titles = {a["jd_id"]: a["title"] for a in recs}
    t = Table("JD (anchor title)", "candidate", "requirements", "raw total", "cap", "total", "label",
              "verdicts (met/unmet/unclear)", title="the judge: requirements from the anchors, scores and caps in code")
    for j in res.judgments.iter_records():
        v = [r["verdict"] for r in j["requirements"]]
        cv_title = (cvs[j["cv_id"]].get("title") or cvs[j["cv_id"]]["text"].split("\n", 1)[0])[:30]
        t.add_row(titles.get(j["jd_id"], j["jd_id"])[:30], cv_title, str(len(v)), f"{j['raw_total']:.1f}",
                  str(j["cap"]), f"{j['total']:.1f}", "positive" if j["label"] else "negative",
                  f"{v.count('met')}/{v.count('unmet')}/{v.count('unclear')}")
    console.print(t)
    unscored = [r for r in res.judgments.iter_rejects() if "unscored" in str(r.get("reason", ""))]
    if unscored:
        console.print(f"{len(unscored)} pair(s) unscored: their anchor has no checkable requirement "
                      f"(e.g. {unscored[0]['reason']}).")
    failed = {k: v for k, v in res.stats.items() if k.startswith("failed")}
    if failed:
        console.print(f"judge answers rejected (kept in rejects with the raw output): {failed}")
    return res.judgments.ref


def _train_and_eval(store: DatasetStore, console: Console) -> dict:
    try:
        from train.config import R2Config, load_config
        from train.embed_cache import EmbeddingCache
        from train.evaluate import local_eval, make_scorer, write_comparison
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
    return {"rows": rows, "files": {k: str(v) for k, v in files.items()}, "model": str(model_dir)}


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
             f"judgments: {out['judge'] or 'none (no anchor kept)'}"]
    if out.get("eval"):
        lines += [f"R2 model: {out['eval']['model']}", f"evaluation plot: {out['eval']['files']['png']}"]
    lines += [f"LLM answers cached in {store.home / '.mira'}: a re-run makes no LLM call.",
              f"Finished in {out['timings']['total']:.0f} s with LM '{model}'.", "",
              "The same against a real endpoint (keys from the environment only):",
              "  mira demo --lm openai/Qwen/Qwen3-32B --api-base http://your-vllm:8000/v1",
              "  mira synth jd --jds sample-jd --name jobs --lm openai/Qwen/Qwen3-32B --api-base http://your-vllm:8000/v1"]
    console.print(Panel("\n".join(lines), title="done", border_style="green"))
