"""The global-pool protocol (PAPER.md "Judge", Tables 8 / 9): every model retrieves its top-K per JD from one shared
corpus; the union of all models' top-K per JD is judged once (as TREC pools relevance); judge-positives become the
labels; each model's Recall@K / Precision@K is computed against them. Every step is cached and versioned."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synth.errors import BudgetStop, InputError
from synth.store import pool_members
from synth.runner import Runner
from synth.runner.calls import reason_key
from synth.store import DatasetStore, Version

from judge.rubric import Rubric, load_rubric
from train.embed_cache import open_cache
from train.retrieval import top_k
from train.scorer import make_scorer
from train.metrics import Query, rank_metrics
from train.spec import ModelSpec
from judge.run import estimate_judging, judge_pairs


@dataclass
class ProtocolResult:
    rows: list[dict]
    judgments: Version | None = None
    labels: Version | None = None
    rankings: dict[str, Version] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    estimate: dict | None = None
    stats: Counter = field(default_factory=Counter)


def slug(spec: str) -> str:
    return ModelSpec.parse(spec).slug


def pooled_metrics(rankings: dict[str, list[str]], labels: dict[tuple[str, str], int], ks: list[int]) -> dict:
    """Recall@K / Precision@K of one model's rankings against pooled labels (train.metrics, through ranx): the
    denominator is every judge-positive of the JD in the pool, whichever model retrieved it; unjudged pairs are
    dropped from the ranking (never counted as negatives); JDs with no judge-positive are excluded and counted."""
    queries, dropped = [], 0
    for jd, ranked in rankings.items():
        judged = [c for c in ranked if (jd, c) in labels]
        dropped += len(ranked) - len(judged)
        pos = {c for (j, c), y in labels.items() if j == jd and y == 1}
        queries.append(Query(jd, judged, np.arange(len(judged), 0, -1, dtype=float), pos))
    m = rank_metrics(queries, ks)
    out = {"n_queries": m["n_queries"], "excluded_no_positive": m["excluded_no_positive"], "unjudged_dropped": dropped}
    for k in ks:
        out[f"recall@{k}"] = m.get(f"recall@{k}")
        out[f"precision@{k}"] = m.get(f"precision@{k}")
    return out


def _inputs(store: DatasetStore, jds_ref: str, corpus_ref: str | None):
    v = store.resolve(jds_ref, ("jd", "pool"))
    if v.kind == "pool":
        jd_v, cv_v = pool_members(store, v)
        ids = {e["jd_id"] for e in v.iter_records()}
        jds = [r for r in jd_v.iter_records() if r["id"] in ids]
        corpus_v = store.resolve(corpus_ref, "cv") if corpus_ref else cv_v
    else:
        jds = v.records()
        if not corpus_ref:
            raise InputError("--corpus REF (a cv version) is needed when --jds is a jd version.")
        jd_v, corpus_v = v, store.resolve(corpus_ref, "cv")
    corpus = [r for r in corpus_v.iter_records() if r["text"].strip()]
    if not corpus:
        raise InputError(f"{corpus_v.ref} has no CV text to retrieve from.")
    if not jds:
        raise InputError(f"{v.ref} has no JDs.")
    return jds, jd_v, corpus, corpus_v


def retrieve(store: DatasetStore, jds: list[dict], jd_v: Version, corpus: list[dict], corpus_v: Version,
             spec: str, k: int, k1: int, name: str, cache, encoder=None) -> tuple[dict[str, list[str]], Version]:
    scorer = make_scorer(spec)
    scorer.remote = encoder
    ids = [c["id"] for c in corpus]
    emb = scorer.embed([c["text"] for c in corpus], cache)
    qv = scorer.embed_queries([j["text"] for j in jds], cache)
    ranked = {}
    for j, q in zip(jds, qv):
        top = top_k(emb, q, k1)
        s = scorer.rerank(q, emb[top], j, [corpus[i]["text"] for i in top] if scorer.head else None)
        order = [ids[top[i]] for i in np.lexsort((top, -s))][:k]
        ranked[j["id"]] = order
    recs = [{"id": f"pool-{j['id'].split('-', 1)[1]}", "kind": "pool", "jd_id": j["id"], "candidate_ids": ranked[j["id"]],
             "positive_ids": [], "hard_negative_ids": [], "scope": "global"} for j in jds]
    v = store.write(f"{name}-rank-{slug(spec)}", "pool", recs, manifest={
        "parents": [jd_v.ref, corpus_v.ref], "refs": {"jd": jd_v.ref, "cv": corpus_v.ref},
        "role": "ranking", "params": {"model": spec, "k": k, "k1": k1, "lambda": scorer.lam if scorer.head else None,
                                      "encoder_fingerprint": scorer.fingerprint}})
    return ranked, v


def run_protocol(store: DatasetStore, runner: Runner, jds_ref: str, corpus_ref: str | None, models: list[str],
                 name: str, k: int = 200, k1: int = 1000, ks: list[int] | None = None, rubric: Rubric | None = None,
                 redact_pii: bool | None = None, dry_run: bool = False, on_estimate=None,
                 encoder=None) -> ProtocolResult:
    """`on_estimate(estimate)` is called with the token / cost estimate before any judge call is made; `encoder`
    (a train.ray_encode.RayEncoder) encodes the corpus on Ray workers."""
    rubric = rubric or load_rubric()
    ks = sorted({x for x in (ks or [10, 50, 100, 200]) if x <= k}) or [k]
    jds, jd_v, corpus, corpus_v = _inputs(store, jds_ref, corpus_ref)
    for spec in models:  # every model must load before anything is paid for
        make_scorer(spec)
    cache = open_cache(store.home, sharded=encoder is not None)
    result = ProtocolResult([])
    rankings = {}
    for spec in models:
        rankings[spec], result.rankings[spec] = retrieve(store, jds, jd_v, corpus, corpus_v, spec, k, k1, name, cache,
                                                         encoder)
    jd_by, cv_by = {j["id"]: j for j in jds}, {c["id"]: c for c in corpus}
    pairs = sorted({(j, c) for r in rankings.values() for j, cs in r.items() for c in cs})
    redact_pii = (not runner.lm_config.is_local) if redact_pii is None else redact_pii
    pair_recs = [(jd_by[j], cv_by[c]) for j, c in pairs]
    result.estimate = estimate_judging(runner, rubric, pair_recs, redact_pii)
    if on_estimate is not None:
        on_estimate(result.estimate)
    if dry_run:
        return result
    calls0, hits0 = runner.totals.calls, runner.totals.cache_hits
    jr = judge_pairs(runner, rubric, pair_recs, redact_pii, label="protocol-judge")
    if not jr.complete:
        raise BudgetStop(f"Stopped at the budget after judging {len(jr.outcomes)} of {len(jr.tasks)} pooled pairs; "
                         "re-run the same command with a larger --max-cost to continue (nothing is paid twice).")
    records, rejects = jr.records, jr.rejects
    labels = {(rec["jd_id"], rec["cv_id"]): rec["label"] for rec in records}
    for r in rejects:
        result.stats[f"judge failed: {reason_key(r['reason'])}"] += 1
    result.stats.update(pooled_pairs=len(pairs), judged=len(records), judge_positive=sum(labels.values()),
                        new_llm_calls=runner.totals.calls - calls0, from_cache=runner.totals.cache_hits - hits0)
    result.judgments = store.write(f"{name}-judged", "judgment", records, rejects, manifest={
        "parents": [v.ref for v in result.rankings.values()], "prompts": {"rubric": rubric.hash},
        "lm": runner.lm_public, "refs": {"jd": jd_v.ref, "cv": corpus_v.ref},
        "stages": {"judge": {"in": len(pairs), "kept": len(records), "duplicates": 0,
                             "rejected": dict(Counter(reason_key(r["reason"]) for r in rejects))}}})
    for spec in models:
        result.rows.append({"model": spec, **pooled_metrics(rankings[spec], labels, ks)})
    label_recs = []
    for j in jds:
        cands = sorted(c for (jj, c) in labels if jj == j["id"])
        if cands:
            label_recs.append({"id": f"pool-{j['id'].split('-', 1)[1]}", "kind": "pool", "jd_id": j["id"],
                               "candidate_ids": cands, "positive_ids": [c for c in cands if labels[(j['id'], c)]],
                               "hard_negative_ids": [], "scope": "global"})
    result.labels = store.write(f"{name}-labels", "pool", label_recs, manifest={
        "parents": [result.judgments.ref], "refs": {"jd": jd_v.ref, "cv": corpus_v.ref}, "labels": "pooled judge",
        "params": {"models": models, "k": k, "k1": k1, "ks": ks}, "metrics": result.rows,
        "summary": dict(result.stats)})
    result.files = write_report(result.rows, ks, store.home / "reports" / name, name)
    return result


def write_report(rows: list[dict], ks: list[int], out: Path, name: str) -> dict[str, Path]:
    """CSV, markdown (Table 8: Recall@K, Table 9: Precision@K, in %) and a PNG bar chart."""
    import csv

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "protocol.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["model"] + [f"recall@{k}" for k in ks] + [f"precision@{k}" for k in ks] + ["n_queries"])
        for r in rows:
            w.writerow([r["model"]] + [r[f"recall@{k}"] for k in ks] + [r[f"precision@{k}"] for k in ks] +
                       [r["n_queries"]])
    pct = lambda x: "n/a" if x is None else f"{100 * x:.2f}"  # noqa: E731
    md = [f"# Global-pool protocol: {name}", "", "Table 8 — Recall@K (%) against pooled judge labels", "",
          "| model | " + " | ".join(f"@{k}" for k in ks) + " |", "|---" * (len(ks) + 1) + "|"]
    md += [f"| {r['model']} | " + " | ".join(pct(r[f'recall@{k}']) for k in ks) + " |" for r in rows]
    md += ["", "Table 9 — Precision@K (%)", "", "| model | " + " | ".join(f"@{k}" for k in ks) + " |",
           "|---" * (len(ks) + 1) + "|"]
    md += [f"| {r['model']} | " + " | ".join(pct(r[f'precision@{k}']) for k in ks) + " |" for r in rows]
    (out / "protocol.md").write_text("\n".join(md) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6, 1.5 * len(ks) * len(rows) / 2), 4))
    width = 0.8 / max(1, len(rows))
    for i, r in enumerate(rows):
        ax.bar(np.arange(len(ks)) + i * width, [r[f"recall@{k}"] or 0 for k in ks], width, label=ModelSpec.parse(
            r["model"]).label)
    ax.set_xticks(np.arange(len(ks)) + width * (len(rows) - 1) / 2, [f"R@{k}" for k in ks])
    ax.set_ylim(0, 1)
    ax.set_ylabel("Recall against pooled judge labels")
    ax.legend(fontsize=8)
    ax.set_title(name)
    fig.tight_layout()
    fig.savefig(out / "protocol.png", dpi=110)
    plt.close(fig)
    return {"csv": out / "protocol.csv", "md": out / "protocol.md", "png": out / "protocol.png"}
