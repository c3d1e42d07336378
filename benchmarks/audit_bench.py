"""Fairness audit on real CVs (#29): livecareer CVs of four categories against Monster JDs of the same categories,
each CV's name swapped across the eight groups of the default names file; the zero-shot MiniLM and an R2 model
(trained as benchmarks/real_eval.py trains it: RJDB dev, split by JD seed 13, batch 32, max length 256; one epoch
and no learning-rate probe here, the smallest affordable on the shared machine) audited side by side with `mira audit model`'s code.

    nice python benchmarks/audit_bench.py [--r2 FOLDER] [--keep DIR]

Livecareer CVs are anonymised by their source (their first line is a job title; 12 of 2,484 carry a name), so every
CV gets the same name line, "Name: Jordan Taylor", before the audit swaps it: the originals all carry one name and
each variant differs from its original in the name only. Each JD's candidates are all the chosen CVs (relevant =
same category); a variant's rank is among the other candidates as they are.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _category_pool import category_of
from _common import bench_line, data_dir

from synth.importer import import_file
from synth.store import DatasetStore

PLACEHOLDER = "Jordan Taylor"


def build(store: DatasetStore, categories: list[str], per_category: int, jds_per_category: int) -> str:
    data = data_dir()
    jd_v = next(v for v in import_file(store, "jd", data / "jds/monster_jobs_sample/jobs_sample.csv", "monster",
                                       preset="monster").versions if v.kind == "jd")
    cv_v = next(v for v in import_file(store, "cv", data / "cvs/livecareer_resumes/livecareer_resumes_from_pdf.csv",
                                       "livecareer", preset="livecareer").versions if v.kind == "cv")
    chosen: dict[str, list[dict]] = {c: [] for c in categories}
    for cv in cv_v.iter_records():
        bucket = chosen.get(cv.get("category"))
        if bucket is not None and len(bucket) < per_category and len(cv["text"]) > 400:
            bucket.append({**cv, "text": f"Name: {PLACEHOLDER}\n{cv['text']}"})
    cvs = [c for cat in categories for c in chosen[cat]]
    named = store.write("audit-cvs", "cv", cvs, manifest={"parents": [cv_v.ref], "params": {
        "name_line": PLACEHOLDER, "per_category": per_category}})
    taken: dict[str, int] = {}
    entries = []
    for j in jd_v.iter_records():
        cat = category_of(j.get("title"))
        if cat not in chosen or taken.get(cat, 0) >= jds_per_category:
            continue
        taken[cat] = taken.get(cat, 0) + 1
        entries.append({"id": f"pool-{j['id'][3:]}", "kind": "pool", "jd_id": j["id"],
                        "candidate_ids": [c["id"] for c in cvs],
                        "positive_ids": [c["id"] for c in chosen[cat]], "hard_negative_ids": [], "scope": "local"})
    pool = store.write("audit-pool", "pool", entries, manifest={"parents": [jd_v.ref, named.ref],
                                                               "refs": {"jd": jd_v.ref, "cv": named.ref},
                                                               "params": {"jds": taken}})
    return pool.ref


def train_r2_like_real_eval(store: DatasetStore, out: Path) -> Path:
    from rich.console import Console

    from synth.split import split_version
    from train.config import R2Config, load_config
    from train.rounds import train_r2

    import_file(store, "pool", data_dir() / "pairs/rjdb/rjdb_dev.jsonl", "rjdb", preset="rjdb")
    dev, _ = split_version(store, "rjdb", "jd", (0.8, 0.2), seed=13)
    tr, _, va = split_version(store, dev.ref, "jd", (0.7, 0.2, 0.1), seed=13, name="r2")
    # the learning rate Mira fits to the data size, without the three-way probe (27 extra steps: 20 min here)
    cfg = load_config(R2Config, epochs=1, batch_size=32, max_length=256, lr_probe=False)
    train_r2(store, tr.ref, None, out, cfg, val_ref=va.ref, console=Console(stderr=True))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--categories", default="ACCOUNTANT,CHEF,TEACHER,HR")
    ap.add_argument("--per-category", type=int, default=10, help="CVs per category")
    ap.add_argument("--jds-per-category", type=int, default=3)
    ap.add_argument("--names-per-group", type=int, default=2)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--r2", type=Path, help="an R2 model folder to audit instead of training one")
    ap.add_argument("--keep", type=Path, help="keep the datasets and models in this folder")
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    from mira.audit.model_audit import ModelAuditParams, model_audit
    from mira.audit.names import load_names
    from mira.audit.report import plot, table, write_json
    from train.embed_cache import EmbeddingCache
    from train.scorer import make_scorer

    console = Console(width=150)
    t0 = time.time()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="mira-audit-bench-"))
    store = DatasetStore(tmp)
    pool_ref = build(store, args.categories.split(","), args.per_category, args.jds_per_category)
    groups = load_names()
    cache = EmbeddingCache(tmp / ".mira" / "embeddings.sqlite")
    params = ModelAuditParams(k=args.k, per_group=args.names_per_group)
    reports, r2_minutes = {}, 0.0
    for label in ("zero-shot", "R2"):  # zero-shot first: its table prints before R2 trains
        spec = "zero-shot"
        if label == "R2":
            t_r2 = time.time()
            spec = str(args.r2 or train_r2_like_real_eval(store, tmp / "r2"))
            r2_minutes = 0.0 if args.r2 else (time.time() - t_r2) / 60
        rep = model_audit(store, pool_ref, make_scorer(spec, max_length=256), cache, groups, params, "default")
        console.print(table(rep, title=f"{label}: {rep['params']['variants']} variants, "
                                       f"{len(store.resolve(pool_ref).records())} JDs, top-{args.k}"))
        write_json(rep, tmp / f"audit-{label}.json")
        plot(rep, tmp / f"audit-{label}.png")
        reports[label] = rep
    t = Table(title="side by side: mean cosine (mean rank among the candidates when it replaces the original)")
    t.add_column("group")
    for label in reports:
        t.add_column(label, justify="right")
    for g in groups:
        t.add_row(g, *[f"{r['groups'][g]['mean_score']:.4f} ({r['groups'][g]['mean_rank']:.2f})"
                       + (" [red]flagged[/]" if r["groups"][g]["flagged"] else "") for r in reports.values()])
    console.print(t)
    figures = {}
    for label, r in reports.items():
        gs = r["groups"].values()
        key = "zs" if label == "zero-shot" else "r2"
        figures[f"{key}_score_gap"] = max(s["mean_score"] for s in gs) - min(s["mean_score"] for s in gs)
        figures[f"{key}_rank_gap"] = max(s["mean_rank"] for s in gs) - min(s["mean_rank"] for s in gs)
        figures[f"{key}_min_diff"] = min(s["mean_paired_diff"] for s in gs)
        figures[f"{key}_min_impact_ratio"] = min((s["impact_ratio"] for s in gs if s["impact_ratio"] is not None),
                                                 default=float("nan"))
        figures[f"{key}_flagged"] = ",".join(g for g, s in r["groups"].items() if s["flagged"]) or "none"
        figures[f"{key}_orig_rank"] = r["original"]["mean_rank"]
    console.print(f"reports and plots in {tmp}")
    print(bench_line("audit", cvs=len({e for e in store.resolve(pool_ref).records()[0]["candidate_ids"]}),
                     jds=len(store.resolve(pool_ref).records()), groups=len(groups),
                     variants=reports["zero-shot"]["params"]["variants"], **figures,
                     r2_train_minutes=r2_minutes, minutes=(time.time() - t0) / 60))


if __name__ == "__main__":
    main()
