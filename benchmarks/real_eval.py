"""Real-data benchmark: RJDB dev, split by JD 400 / 100 (seed 13); R2 (LoRA on the offline MiniLM) and two heads
trained on the 400 (280 for R2, 80 for the heads, 40 for validation: early stopping and lambda); evaluated on the
100 as a global pool (100 JDs against their 200 CVs): zero-shot, R2, R2 + the paper's BoundaryHead, and R2 + the
requirement-aware head (train/requirements.py; what Mira recommends). Beside it, the real category pool: Monster JDs
whose titles name a livecareer category against all 2,484 livecareer CVs (relevant = same category), Recall@100.

    python benchmarks/real_eval.py [--quick]

R2 runs with Mira's defaults (learning rate and epochs fitted to the data size, with a learning-rate probe on the
validation JDs and early stopping: train/schedule.py; the choices are printed from mira_train.json), batch 32, max
length 256. --quick: 1 epoch.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _category_pool import build_category_pool
from _common import bench_line, data_dir

from synth.importer import import_file
from synth.split import split_version
from synth.store import DatasetStore


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep", type=Path, help="keep the models and datasets in this folder")
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    from train.config import R2Config, load_config
    from train.data import head_pairs_with_jds
    from train.embed_cache import EmbeddingCache
    from train.evaluate import search_lambda_on_pool
    from train.retrieval import global_eval
    from train.scorer import make_scorer
    from train.head import save_head, train_head
    from train.requirements import requirement_features
    from train.rounds import train_r2

    console = Console()
    t0 = time.time()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="mira-real-eval-"))
    store = DatasetStore(tmp)
    import_file(store, "pool", data_dir() / "pairs/rjdb/rjdb_dev.jsonl", "rjdb", preset="rjdb")
    dev, test = split_version(store, "rjdb", "jd", (0.8, 0.2), seed=13)
    # R2 and the head learn from different JDs: a head trained on pairs R2 has already fitted sees only easy cases
    tr, hd, va = split_version(store, dev.ref, "jd", (0.7, 0.2, 0.1), seed=13, name="r2")
    console.print(f"split: {tr.count} R2 train / {hd.count} head train / {va.count} validation / {test.count} test")
    cfg = load_config(R2Config, epochs=1 if args.quick else None, batch_size=32, max_length=256)
    r2 = train_r2(store, tr.ref, None, tmp / "r2", cfg, val_ref=va.ref, console=Console(stderr=True))
    cache = EmbeddingCache(tmp / ".mira" / "embeddings.sqlite")
    scorer = make_scorer(str(tmp / "r2"), max_length=256)
    q, c, y, g, src = head_pairs_with_jds(store, hd.ref)
    qe, ce, ya = scorer.embed_queries(q, cache), scorer.embed(c, cache), np.array(y, dtype=np.float32)
    heads = {}
    for name, x in (("paper head", None), ("requirement head", requirement_features(src, c))):
        th = time.time()
        res = train_head(qe, ce, ya, g, x=x)
        res.lam, _ = search_lambda_on_pool(store, va.ref, scorer, res.head, cache)
        save_head(res, tmp / name.replace(" ", "-"), {"data": hd.ref})
        heads[name] = (res, time.time() - th)
    specs = {"zero-shot": "zero-shot", "R2": str(tmp / "r2"),
             "R2 + paper head": f"{tmp / 'r2'}+{tmp / 'paper-head'}",
             "R2 + requirement head (Mira)": f"{tmp / 'r2'}+{tmp / 'requirement-head'}"}
    rows = {label: global_eval(store, test.ref, make_scorer(spec, max_length=256), [1, 5, 10], cache, k1=1000)
            for label, spec in specs.items()}
    t = Table(title=f"RJDB dev, {test.count} held-out JDs as a global pool ({rows['R2']['corpus_size']} CVs)")
    for col in ("model", "Recall@1", "Recall@5", "Recall@10", "MRR", "pos above hard neg"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for label, m in rows.items():
        t.add_row(label, *(f"{m[k]:.3f}" for k in ("recall@1", "recall@5", "recall@10", "mrr", "pos_above_hardneg")))
    console.print(t)
    pool, corpus = build_category_pool(store, data_dir())
    cat = {label: global_eval(store, pool.ref, make_scorer(spec, max_length=256), [100], cache, k1=1000,
                              corpus_ref=corpus.ref) for label, spec in specs.items()}
    t = Table(title=f"real category pool: {pool.count} Monster JDs x {corpus.count} livecareer CVs "
                    f"(relevant = same category: {pool.manifest['params']['categories']})")
    for col in ("model", "Recall@100", "Precision@100", "vs zero-shot (pp)", "head abstained (JDs)"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for label, m in cat.items():
        t.add_row(label, f"{m['recall@100']:.3f}", f"{m['precision@100']:.3f}",
                  f"{100 * (m['recall@100'] - cat['zero-shot']['recall@100']):+.1f}",
                  str(m["head_abstained"]) if "requirement" in label else "")
    console.print(t)
    sched = r2.manifest["schedule"]
    console.print(f"R2 schedule: lr {sched['lr']['value']:g} ({sched['lr']['why']}); epochs up to "
                  f"{sched['epochs']['value']} ({sched['epochs']['why']})")
    train_s = r2.manifest.get("wall_seconds")
    console.print(f"R2 epochs run: {len(r2.manifest['epochs'])}" + (f" in {train_s / 60:.1f} min" if train_s else "")
                  + "; " + "; ".join(f"{n}: lambda {r.lam}, {r.stopped_epoch} epochs, {s:.0f} s"
                                     for n, (r, s) in heads.items()))
    zs, r2m, ph, rh = (rows[k] for k in specs)
    print(bench_line("real_eval", **{"zs_recall@1": zs["recall@1"], "r2_recall@1": r2m["recall@1"],
                                     "paper_head_recall@1": ph["recall@1"], "req_head_recall@1": rh["recall@1"],
                                     "zs_pos_above_hardneg": zs["pos_above_hardneg"],
                                     "r2_pos_above_hardneg": r2m["pos_above_hardneg"],
                                     "paper_head_pos_above_hardneg": ph["pos_above_hardneg"],
                                     "req_head_pos_above_hardneg": rh["pos_above_hardneg"],
                                     "req_head_lambda": heads["requirement head"][0].lam,
                                     "cat_zs_recall@100": cat["zero-shot"]["recall@100"],
                                     "cat_req_head_recall@100": cat["R2 + requirement head (Mira)"]["recall@100"],
                                     "r2_train_minutes": (train_s or 0) / 60, "minutes": (time.time() - t0) / 60}))


if __name__ == "__main__":
    main()
