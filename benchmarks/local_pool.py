"""Real local-pool benchmark (#28 item 3), the paper's protocol on public data: Monster JDs whose titles name a
livecareer category (benchmarks/_category_pool.py's map) against all 2,484 livecareer CVs; BM25 (bm25s, English
stopwords) returns each JD's top 200 CVs as its shortlist, in BM25 order; relevant = a shortlisted CV of the JD's
category (the shortlist is what a business labels; JDs whose shortlist holds none are excluded and counted). Every
model reranks the same shortlists: upstream BM25 (its own order), zero-shot MiniLM, R2 and R2 + the two heads,
Recall@K and Precision@K at K = 10..70, all at max length 256.

R2 and the heads are trained as benchmarks/real_eval.py trains them (RJDB dev, split by JD, seed 13: 280 R2 / 80 head
/ 40 validation JDs; Mira's schedule, batch 32, max length 256); --epochs caps R2's epochs to keep a CPU run
affordable. The work folder keeps the datasets, the models and the embedding cache, so a re-run encodes nothing
again and trains nothing again (the R2 folder is named by its epoch setting).

    nice python benchmarks/local_pool.py [--epochs N] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from _category_pool import build_category_pool
from _common import bench_line, data_dir

from synth.importer import import_file
from synth.split import split_version
from synth.store import DatasetStore

KS = [10, 20, 30, 40, 50, 60, 70]
SHORTLIST = 200


def bm25_pool(store: DatasetStore, per_category: int):
    """The local pool: each category-mapped Monster JD's BM25 top 200 over every livecareer CV."""
    import bm25s

    cat_pool, cv_v = build_category_pool(store, data_dir(), per_category)
    jds, cvs = store.resolve(cat_pool.manifest["refs"]["jd"]).by_id(), cv_v.records()
    ids = [c["id"] for c in cvs]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([c["text"] for c in cvs], stopwords="en", show_progress=False),
                    show_progress=False)
    entries = cat_pool.records()
    docs, scores = retriever.retrieve(bm25s.tokenize([jds[e["jd_id"]]["text"] for e in entries], stopwords="en",
                                                     show_progress=False), k=SHORTLIST, show_progress=False)
    out = []
    for e, d, s in zip(entries, docs, scores):
        cat = set(e["positive_ids"])
        cands = [ids[i] for i in d]
        out.append({"id": e["id"], "kind": "pool", "jd_id": e["jd_id"], "candidate_ids": cands,
                    "positive_ids": [c for c in cands if c in cat], "hard_negative_ids": [], "scope": "local",
                    "upstream_scores": [float(x) for x in s], "category_size": len(cat)})
    sizes = [e.pop("category_size") for e in out]
    pool = store.write("bm25-local-pool", "pool", out, manifest={
        **{k: cat_pool.manifest[k] for k in ("parents", "refs")},
        "params": {"retriever": f"bm25s {bm25s.__version__} (English stopwords)", "shortlist": SHORTLIST,
                   **cat_pool.manifest["params"]}})
    return pool, sizes


def train_models(store: DatasetStore, work: Path, epochs: int | None, cache, console) -> dict[str, str]:
    """R2 and the two heads, trained as real_eval.py trains them; reused from the work folder when present."""
    from train.config import R2Config, load_config
    from train.data import head_pairs_with_jds
    from train.evaluate import search_lambda_on_pool
    from train.scorer import make_scorer
    from train.head import save_head, train_head
    from train.requirements import requirement_features
    from train.rounds import train_r2

    import_file(store, "pool", data_dir() / "pairs/rjdb/rjdb_dev.jsonl", "rjdb", preset="rjdb")
    dev, _ = split_version(store, "rjdb", "jd", (0.8, 0.2), seed=13)
    tr, hd, va = split_version(store, dev.ref, "jd", (0.7, 0.2, 0.1), seed=13, name="r2")
    r2 = work / f"r2-epochs-{epochs or 'auto'}"
    if not (r2 / "mira_train.json").exists():
        t0 = time.time()
        cfg = load_config(R2Config, epochs=epochs, batch_size=32, max_length=256)
        train_r2(store, tr.ref, None, r2, cfg, val_ref=va.ref, console=console)
        console.print(f"R2 trained in {(time.time() - t0) / 60:.1f} min")
    scorer = make_scorer(str(r2), max_length=256)
    heads = {"paper head": r2.with_name(r2.name + "-paper-head"),
             "requirement head": r2.with_name(r2.name + "-requirement-head")}
    if not all((h / "head.pt").exists() for h in heads.values()):
        q, c, y, g, src = head_pairs_with_jds(store, hd.ref)
        qe, ce, ya = scorer.embed_queries(q, cache), scorer.embed(c, cache), np.array(y, dtype=np.float32)
        for name, x in (("paper head", None), ("requirement head", requirement_features(src, c))):
            res = train_head(qe, ce, ya, g, x=x)
            res.lam, _ = search_lambda_on_pool(store, va.ref, scorer, res.head, cache)
            save_head(res, heads[name], {"data": hd.ref})
    sched = json.loads((r2 / "mira_train.json").read_text()).get("schedule", {})
    console.print(f"R2: lr {sched.get('lr', {}).get('value')}, epochs {sched.get('epochs', {}).get('value')} "
                  f"({sched.get('epochs', {}).get('why')})")
    return {"zero-shot": "zero-shot", "R2": str(r2), "R2 + paper head": f"{r2}+{heads['paper head']}",
            "R2 + requirement head (Mira)": f"{r2}+{heads['requirement head']}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, help="cap R2's epochs (default: Mira's schedule)")
    ap.add_argument("--per-category", type=int, default=15, help="Monster JDs per category")
    ap.add_argument("--no-train", action="store_true", help="upstream BM25 and zero-shot only (nothing trained)")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("MIRA_BENCH_WORK") or
                                                      Path.home() / ".cache" / "mira-bench" / "local_pool"))
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    from train.embed_cache import EmbeddingCache
    from train.evaluate import local_eval
    from train.report import write_comparison
    from train.scorer import make_scorer
    from train.local_eval import upstream_eval

    console, t0 = Console(), time.time()
    args.work.mkdir(parents=True, exist_ok=True)
    store = DatasetStore(args.work)
    cache = EmbeddingCache(args.work / ".mira" / "embeddings.sqlite")
    pool, cat_sizes = bm25_pool(store, args.per_category)
    specs = {"zero-shot": "zero-shot"} if args.no_train else \
        train_models(store, args.work, args.epochs, cache, Console(stderr=True))
    rows = {"upstream BM25": upstream_eval(store, pool.ref, KS)}
    for label, spec in specs.items():
        te = time.time()
        rows[label] = local_eval(store, pool.ref, make_scorer(spec, max_length=256), KS, cache)
        console.print(f"{label}: evaluated in {time.time() - te:.0f} s")
    bm, zs = rows["upstream BM25"], rows["zero-shot"]
    lo, med, hi = bm["candidates_per_jd"]
    shortlist_recall = sum(len(e["positive_ids"]) for e in pool.iter_records()) / max(1, sum(cat_sizes))
    title = (f"local pool {pool.ref}: {bm['jds_in_pool']} Monster JDs, BM25 top {SHORTLIST} of 2,484 livecareer CVs "
             f"each; {bm['n_queries']} JDs scored ({bm['excluded_no_positive']} without a same-category CV in "
             f"the shortlist excluded); {bm['candidates_scored']} candidates ({lo}/{med:g}/{hi} per JD)")
    for metric in ("recall", "precision"):
        t = Table(title=f"{metric.title()}@K (%) — {title}")
        t.add_column("model")
        for k in KS:
            t.add_column(f"@{k}", justify="right")
        t.add_column("vs BM25 @10/@70 (pp)", justify="right")
        t.add_column("vs zero-shot @10/@70 (pp)", justify="right")
        t.add_column("head abstained (JDs)", justify="right")
        for label, m in rows.items():
            d = [f"{100 * (m[f'{metric}@{k}'] - ref[f'{metric}@{k}']):+.1f}" for ref in (bm, zs) for k in (10, 70)]
            t.add_row(label, *[f"{100 * m[f'{metric}@{k}']:.2f}" for k in KS], f"{d[0]} / {d[1]}",
                      f"{d[2]} / {d[3]}", f"{m['head_abstained']} of {m['jds_in_pool']}" if "head" in label else "")
        console.print(t)
    console.print(f"BM25 shortlists hold {100 * shortlist_recall:.1f}% of the JDs' same-category CVs "
                  f"(Recall here counts the shortlisted ones, the labelled positives of a local pool)")
    files = write_comparison([{**m, "model": label} for label, m in rows.items()], KS, args.work / "report", title)
    console.print(f"report: {files['md']}, {files['png']}")
    key = {"upstream BM25": "bm25", "zero-shot": "zs", "R2": "r2", "R2 + paper head": "paper_head",
           "R2 + requirement head (Mira)": "req_head"}
    vals = {f"{key[label]}_{m[0]}@{k}": rows[label][f"{m}@{k}"] for label in rows for m in ("recall", "precision")
            for k in (10, 30, 70)}
    print(bench_line("local_pool", jds=bm["n_queries"], excluded=bm["excluded_no_positive"], **vals,
                     req_head_abstained=rows.get("R2 + requirement head (Mira)", {}).get("head_abstained"),
                     minutes=(time.time() - t0) / 60))


if __name__ == "__main__":
    main()
