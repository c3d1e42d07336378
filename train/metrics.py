"""Recall-first ranking metrics (PAPER.md "Task"): Recall@K, Precision@K, MRR, nDCG@K, pos_above_hardneg."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Query:
    qid: str
    candidate_ids: list[str]
    scores: np.ndarray
    positives: set[str]
    hard_negatives: set[str] = field(default_factory=set)


def ranking(q: Query) -> list[str]:
    """Candidates by descending score; ties broken by candidate id, so results never depend on input order."""
    return [c for _, c in sorted(zip((-q.scores).tolist(), q.candidate_ids))]


def rank_metrics(queries: list[Query], ks: list[int]) -> dict:
    """Macro-averaged over queries with at least one positive; the others are excluded and counted.

    Precision@K divides by K even when the pool is smaller than K (the review budget is K).
    """
    used = [q for q in queries if q.positives & set(q.candidate_ids)]
    out: dict = {"n_queries": len(used), "excluded_no_positive": len(queries) - len(used)}
    if not used:
        return out
    rec = {k: [] for k in ks}
    prec = {k: [] for k in ks}
    ndcg = {k: [] for k in ks}
    rr, above, with_hn = [], 0, 0
    for q in used:
        order = ranking(q)
        pos = q.positives & set(q.candidate_ids)
        hits = [1.0 if c in pos else 0.0 for c in order]
        for k in ks:
            h = sum(hits[:k])
            rec[k].append(h / len(pos))
            prec[k].append(h / k)
            dcg = sum(x / math.log2(i + 2) for i, x in enumerate(hits[:k]))
            idcg = sum(1 / math.log2(i + 2) for i in range(min(k, len(pos))))
            ndcg[k].append(dcg / idcg)
        first = hits.index(1.0)
        rr.append(1.0 / (first + 1))
        hn = [i for i, c in enumerate(order) if c in q.hard_negatives]
        if hn:
            with_hn += 1
            above += first < min(hn)
    for k in ks:
        out[f"recall@{k}"] = float(np.mean(rec[k]))
        out[f"precision@{k}"] = float(np.mean(prec[k]))
        out[f"ndcg@{k}"] = float(np.mean(ndcg[k]))
    out["mrr"] = float(np.mean(rr))
    if with_hn:
        out["pos_above_hardneg"] = above / with_hn
        out["n_with_hardneg"] = with_hn
    return out


def triplet_metrics(q: np.ndarray, p: np.ndarray, n: np.ndarray) -> dict:
    """Accuracy (cos(q, c+) > cos(q, c-)) and mean margin cos(q, c+) - cos(q, c-), for normalised embeddings."""
    sp, sn = np.sum(q * p, axis=1), np.sum(q * n, axis=1)
    return {"triplet_accuracy": float(np.mean(sp > sn)), "margin": float(np.mean(sp - sn)), "n": int(len(q))}
