"""Local pools: rerank each JD's shortlist (the paper's primary protocol), and the head's lambda searched on a
validation pool. Model loading is `scorer.py`, global pools `retrieval.py`, tables and plots `report.py`, the
boundary diagnostic `diagnose.py`, the leakage guard `leakage.py`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from synth.store import DatasetStore

from .embed_cache import EmbeddingCache
from .head import PairHead, search_lambda
from .local_eval import entry_query, load_pool, scored_summary
from .metrics import rank_metrics, write_trec_run
from .scorer import Scorer


def eval_jds(store: DatasetStore, pool_ref: str) -> list[dict]:
    pool, jds, _ = load_pool(store, pool_ref)
    return [jds[e["jd_id"]] for e in pool.iter_records()]


def local_eval(store: DatasetStore, pool_ref: str, scorer: Scorer, ks: list[int], cache: EmbeddingCache,
               run_file: Path | None = None, min_grade: int = 1) -> dict:
    """Rerank each JD's shortlist; a graded pool counts grade >= min_grade as relevant (train/local_eval.py)."""
    pool, jds, cvs = load_pool(store, pool_ref)
    scorer.abstained = 0
    entries = pool.records()
    jd_ids = [e["jd_id"] for e in entries]
    cv_ids = sorted({c for e in entries for c in e["candidate_ids"]})
    jv = dict(zip(jd_ids, scorer.embed_queries([jds[j]["text"] for j in jd_ids], cache)))
    cvv = dict(zip(cv_ids, scorer.embed([cvs[c]["text"] for c in cv_ids], cache)))
    queries = []
    for e in entries:
        cands = e["candidate_ids"]
        scores = scorer.rerank(jv[e["jd_id"]], np.stack([cvv[c] for c in cands]), jds[e["jd_id"]],
                               [cvs[c]["text"] for c in cands])
        queries.append(entry_query(e, scores, min_grade))
    if run_file:
        write_trec_run(queries, run_file, scorer.name)
    return {**rank_metrics(queries, ks), **scored_summary(pool, queries, min_grade), "model": scorer.name,
            "pool": pool.ref, "mode": "local",
            "lambda": scorer.lam if scorer.head else None, "max_length": scorer.max_length,
            "head_abstained": scorer.abstained}


def search_lambda_on_pool(store: DatasetStore, pool_ref: str, scorer: Scorer, head: PairHead,
                          cache: EmbeddingCache, select: str = "recall@1") -> tuple[float, dict]:
    """Grid-search the head's lambda on a validation pool (each JD's candidates) for `select`, then MRR."""
    pool, jds, cvs = load_pool(store, pool_ref)
    probe = replace(scorer, head=head, _reqs={})  # scores exactly as the saved MODEL+HEAD will, abstentions included
    cos, bnd, pos = [], [], []
    for e in pool.iter_records():
        qv = scorer.embed_queries([jds[e["jd_id"]]["text"]], cache)[0]
        cv = scorer.embed([cvs[x]["text"] for x in e["candidate_ids"]], cache)
        cos.append(cv @ qv)
        bnd.append(probe.boundary(qv, cv, jds[e["jd_id"]], [cvs[i]["text"] for i in e["candidate_ids"]]))
        pos.append(np.array([i in e["positive_ids"] for i in e["candidate_ids"]]))
    # the paper searches 0..0.5; a requirement-aware head separates near misses the cosine cannot, and may need more
    if head.extra:
        return search_lambda(cos, bnd, pos, [round(v, 3) for v in np.arange(0.0, 2.001, 0.05)], select, "middle")
    return search_lambda(cos, bnd, pos, select=select)
