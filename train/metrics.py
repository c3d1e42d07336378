"""Recall-first ranking metrics (PAPER.md "Task") over the right denominators.

Definitions (every JD that has at least one positive counts; JDs without positives are excluded and counted):
- Recall@K = |top-K ∩ P| / |P| with P *all* positives of the JD, retrieved or not: a JD whose positives the first
  stage missed counts with recall 0, never dropped.
- Precision@K = |top-K ∩ P| / K (the review budget is K, even when fewer candidates were retrieved).
- nDCG@K with the ideal ranking over all of P (binary gain; a graded pool's gain is the candidate's grade, every
  grade > 0 counting, as trec_eval does, while Recall / Precision / MRR count grade >= the threshold);
  MRR = 1 / rank of the first positive (0 when none was retrieved).
- pos_above_hardneg, over JDs with a labelled hard negative: the best-ranked positive is above every hard negative
  (an unretrieved item ranks below every retrieved one; both unretrieved is not "above").
- Where the errors are, when hard negatives say what they lost (`hard_negative_lost`, e.g. RJDB's "skill removed",
  "experience shortened"): `pos_above_hardneg:<cause>` over the JDs with a hard negative of that cause, counting
  only those negatives; and `pos_below_failing_neg`, over every positive of a JD with such a negative (each of which
  fails a must requirement the positive meets): the share ranked below at least one of them (an unretrieved positive
  is below a retrieved negative; both unretrieved is not "below").
The ranking itself is Mira's (descending score, ties broken by candidate id), so results never depend on input
order. The per-JD formulas are ranx's (the library TREC-style shared tasks score with; nDCG with gain rel / log2(rank
+ 1)), computed here in plain Python: ranx's numba kernels compile for ~10 s in every process, which was most of a
cached `mira demo` re-run. tests/test_eval.py checks both agree on random pools.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Query:
    qid: str
    candidate_ids: list[str]  # what was retrieved / shortlisted (any order; `scores` ranks them)
    scores: np.ndarray
    positives: set[str]  # every positive of the JD, whether retrieved or not
    hard_negatives: set[str] = field(default_factory=set)
    lost: dict[str, list[str]] = field(default_factory=dict)  # hard negative -> the must requirements it fails
    grades: dict[str, int] | None = None  # graded relevance (nDCG gains); None: binary, positives gain 1


def ranking(q: Query) -> list[str]:
    """Candidates by descending score; ties broken by candidate id, so results never depend on input order."""
    return [c for _, c in sorted(zip((-np.asarray(q.scores, dtype=float)).tolist(), q.candidate_ids))]


def rank_metrics(queries: list[Query], ks: list[int]) -> dict:
    """Macro-averaged Recall@K, Precision@K, nDCG@K and MRR over every JD with a positive (see the module doc)."""
    used = [q for q in queries if q.positives]
    out: dict = {"n_queries": len(used), "excluded_no_positive": len(queries) - len(used)}
    if not used:
        return out
    per_q = [query_metrics(ranking(q), q.positives, ks, q.grades) for q in used]
    for m in per_q[0]:
        out[m] = float(np.mean([x[m] for x in per_q]))
    above, with_hn = 0, 0
    for q in used:
        if not q.hard_negatives:
            continue
        with_hn += 1
        rank = {c: i for i, c in enumerate(ranking(q))}
        best_pos = min((rank[c] for c in q.positives if c in rank), default=math.inf)
        best_neg = min((rank[c] for c in q.hard_negatives if c in rank), default=math.inf)
        above += best_pos < best_neg
    if with_hn:
        out["pos_above_hardneg"] = above / with_hn
        out["n_with_hardneg"] = with_hn
    out.update(error_causes(used))
    return out


def query_metrics(order: list[str], positives: set[str], ks: list[int],
                  grades: dict[str, int] | None = None) -> dict[str, float]:
    """One JD's Recall@K, Precision@K, nDCG@K (binary gain, or the grades as gains; ideal ranking over all positives
    or graded candidates) and MRR, for a ranked candidate list and the JD's positives (retrieved or not)."""
    hits = [c in positives for c in order]
    n_pos = len(positives)
    gain = [float(h) for h in hits] if grades is None else [float(grades.get(c, 0)) for c in order]
    ideal = [1.0] * n_pos if grades is None else sorted((float(g) for g in grades.values() if g > 0), reverse=True)
    out: dict[str, float] = {}
    for k in ks:
        top = sum(hits[:k])
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gain[:k]) if g)
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal[:k]))
        out[f"recall@{k}"] = top / n_pos
        out[f"precision@{k}"] = top / k
        out[f"ndcg@{k}"] = dcg / idcg
    first = next((i for i, h in enumerate(hits) if h), None)
    out["mrr"] = 0.0 if first is None else 1 / (first + 1)
    return out


def error_causes(queries: list[Query]) -> dict:
    """pos_above_hardneg per cause and pos_below_failing_neg (see the module doc); empty without causes."""
    per: dict[str, list[int]] = {}
    below, n_pos = 0, 0
    for q in queries:
        failing = {c: tags for c, tags in q.lost.items() if tags and c in q.hard_negatives}
        if not failing:
            continue
        rank = {c: i for i, c in enumerate(ranking(q))}
        best_pos = min((rank[c] for c in q.positives if c in rank), default=math.inf)
        for cause in sorted({t for tags in failing.values() for t in tags}):
            best_neg = min((rank[c] for c, tags in failing.items() if cause in tags and c in rank), default=math.inf)
            per.setdefault(cause, []).append(int(best_pos < best_neg))
        best_fail = min((rank[c] for c in failing if c in rank), default=math.inf)
        for p in q.positives:
            n_pos += 1
            below += best_fail < rank.get(p, math.inf)
    out: dict = {f"pos_above_hardneg:{c}": sum(v) / len(v) for c, v in per.items()}
    out.update({f"n_with_hardneg:{c}": len(v) for c, v in per.items()})
    if n_pos:
        out["pos_below_failing_neg"] = below / n_pos
        out["n_pos_with_failing_neg"] = n_pos
    return out


def write_trec_run(queries: list[Query], path: Path, tag: str) -> Path:
    """A TREC run file (`qid Q0 docid rank score tag`), in Mira's ranking order, for trec_eval / ranx / shared
    tasks such as TalentCLEF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tag = "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in tag) or "mira"
    with open(path, "w", encoding="utf-8") as fh:
        for q in queries:
            score = dict(zip(q.candidate_ids, np.asarray(q.scores, dtype=float).tolist()))
            for i, c in enumerate(ranking(q)):
                fh.write(f"{q.qid} Q0 {c} {i + 1} {score[c]:.6f} {tag}\n")
    return path


def triplet_metrics(q: np.ndarray, p: np.ndarray, n: np.ndarray) -> dict:
    """Accuracy (cos(q, c+) > cos(q, c-)) and mean margin cos(q, c+) - cos(q, c-), for normalised embeddings."""
    sp, sn = np.sum(q * p, axis=1), np.sum(q * n, axis=1)
    return {"triplet_accuracy": float(np.mean(sp > sn)), "margin": float(np.mean(sp - sn)), "n": int(len(q))}
